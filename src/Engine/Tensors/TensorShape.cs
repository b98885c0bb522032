using System.Collections.Immutable;

namespace Distributed.Engine.Tensors;

/// <summary>
/// The shape of one sample, without the batch dimension, in the engine's NHWC layout:
/// images are <c>(H, W, C)</c>, feature vectors <c>(F)</c>. Keras prints the same shape with a
/// leading <c>None</c> for the batch.
/// </summary>
public readonly record struct TensorShape
{
    private readonly ImmutableArray<int> _dims;

    /// <summary>Creates a shape from its dimensions; every dimension must be positive.</summary>
    public TensorShape(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        foreach (var d in dims)
        {
            if (d <= 0) throw new ArgumentOutOfRangeException(nameof(dims), $"every dimension must be positive, got ({string.Join(", ", dims)})");
        }
        _dims = [.. dims];
    }

    /// <summary>The dimensions, outermost first.</summary>
    public ImmutableArray<int> Dims => _dims.IsDefault ? [] : _dims;

    /// <summary>Number of dimensions.</summary>
    public int Rank => Dims.Length;

    /// <summary>Number of float32 elements in one sample.</summary>
    public int Size
    {
        get
        {
            long n = 1;
            foreach (var d in Dims) n *= d;
            return checked((int)n);
        }
    }

    /// <summary>Dimension <paramref name="i"/>.</summary>
    public int this[int i] => Dims[i];

    /// <summary>True for an image shape <c>(H, W, C)</c>.</summary>
    public bool IsImage => Rank == 3;

    /// <summary>Height of an image shape.</summary>
    public int Height => Dims[0];

    /// <summary>Width of an image shape.</summary>
    public int Width => Dims[1];

    /// <summary>Channels of an image shape, features of a vector shape.</summary>
    public int Channels => Dims[^1];

    /// <summary>An image shape <c>(H, W, C)</c>.</summary>
    public static TensorShape Image(int height, int width, int channels) => new(height, width, channels);

    /// <summary>A feature-vector shape <c>(F)</c>.</summary>
    public static TensorShape Vector(int features) => new(features);

    /// <summary>Keras's notation with the batch first: <c>(None, 26, 26, 3)</c>.</summary>
    public string ToKerasString() => "(None, " + string.Join(", ", Dims) + ")";

    /// <inheritdoc/>
    public override string ToString() => "(" + string.Join(", ", Dims) + ")";

    /// <inheritdoc/>
    public bool Equals(TensorShape other) => Dims.AsSpan().SequenceEqual(other.Dims.AsSpan());

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in Dims) h.Add(d);
        return h.ToHashCode();
    }
}
