using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// What max and average pooling share: a square window with a stride (defaulting to the
/// window), <c>valid</c> or <c>same</c> padding, and x <c>(N, H, W, C)</c> → y <c>(N, OH, OW, C)</c>.
/// </summary>
public abstract class Pooling2D : Layer
{
    /// <summary>The resolved window geometry, once built.</summary>
    protected ConvGeometry Geometry;

    /// <summary>Creates the pooling window; <paramref name="stride"/> defaults to the pool size.</summary>
    protected Pooling2D(int poolSize, int? stride, PaddingMode padding, string? name) : base(name)
    {
        PoolSize = poolSize;
        Stride = stride ?? poolSize;
        Padding = padding;
    }

    /// <summary>Square window size.</summary>
    public int PoolSize { get; }
    /// <summary>Stride along both dimensions.</summary>
    public int Stride { get; }
    /// <summary>Padding rule (valid or same).</summary>
    public PaddingMode Padding { get; }

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input)
    {
        RequireImage(input);
        if (PoolSize <= 0) throw BuildError($"pool size must be positive, got {PoolSize}");
        if (Stride <= 0) throw BuildError($"stride must be positive, got {Stride} (input shape {input})");
        if (Padding == PaddingMode.Explicit) throw BuildError("padding must be 'valid' or 'same'");
        Geometry = WindowShapes.Resolve(this, input, PoolSize, PoolSize, Stride, Stride, Padding, 0, 0);
        return TensorShape.Image(Geometry.OutputHeight, Geometry.OutputWidth, input.Channels);
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>
    {
        ["pool_size"] = new[] { PoolSize, PoolSize },
        ["strides"] = new[] { Stride, Stride },
        ["padding"] = WindowShapes.PaddingName(Padding, 0, 0),
    };
}
