using System.Numerics.Tensors;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Global average pooling (Keras <c>GlobalAveragePooling2D</c>): x <c>(N, H, W, C)</c> → y <c>(N, C)</c>,
/// the mean over all pixels of each channel. Keeps nothing for backward.
/// </summary>
public sealed class GlobalAveragePooling2D(string? name = null) : Layer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "GlobalAveragePooling2D";
    /// <inheritdoc/>
    public override string DefaultNameStem => "global_average_pooling2d";

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input)
    {
        RequireImage(input);
        return TensorShape.Vector(input.Channels);
    }

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int c = InputShape.Channels, pixels = InputShape.Height * InputShape.Width, inSize = InputShape.Size;
        float scale = 1f / pixels;
        for (int s = 0; s < batch; s++)
        {
            var acc = y.Slice(s * c, c);
            acc.Clear();
            var xs = x.Slice(s * inSize, inSize);
            for (int p = 0; p < pixels; p++) TensorPrimitives.Add(acc, xs.Slice(p * c, c), acc);
            TensorPrimitives.Multiply(acc, scale, acc);
        }
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (!computeInputGradient) return;
        int c = InputShape.Channels, pixels = InputShape.Height * InputShape.Width, inSize = InputShape.Size;
        float scale = 1f / pixels;
        for (int s = 0; s < batch; s++)
        {
            var go = dy.Slice(s * c, c);
            var dxs = dx.Slice(s * inSize, inSize);
            TensorPrimitives.Multiply(go, scale, dxs.Slice(0, c));
            for (int p = 1; p < pixels; p++) dxs.Slice(0, c).CopyTo(dxs.Slice(p * c, c));
        }
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>();
}
