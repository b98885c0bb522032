using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Flattens each sample to a vector (Keras <c>Flatten</c>). In NHWC the order is (H, W, C),
/// as in Keras; PyTorch's NCHW flatten is (C, H, W), which matters only when importing weights.
/// </summary>
public sealed class Flatten(string? name = null) : Layer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "Flatten";
    /// <inheritdoc/>
    public override string DefaultNameStem => "flatten";

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input) => TensorShape.Vector(input.Size);

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context) =>
        x.Slice(0, batch * InputShape.Size).CopyTo(y);

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (computeInputGradient) dy.Slice(0, batch * InputShape.Size).CopyTo(dx);
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>();
}
