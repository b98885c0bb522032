using Distributed.Engine.Losses;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Softmax over the features of each sample (Keras <c>Softmax</c>): x, y <c>(N, F)</c>.
/// When it is a model's last layer, training fuses it into the cross-entropy loss (which is
/// then computed from its input logits, stably). Backward uses the output.
/// </summary>
public sealed class Softmax(string? name = null) : Layer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "Softmax";
    /// <inheritdoc/>
    public override string DefaultNameStem => "softmax";

    internal override bool BackwardUsesOutput => true;

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input)
    {
        if (input.Rank != 1) throw BuildError($"expects a flat input (features), got {input}");
        return input;
    }

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int f = InputShape.Size;
        for (int s = 0; s < batch; s++) SoftmaxCrossEntropy.Softmax(x.Slice(s * f, f), y.Slice(s * f, f));
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (!computeInputGradient) return;
        int f = InputShape.Size;
        for (int s = 0; s < batch; s++)
        {
            var ys = y.Slice(s * f, f);
            var gs = dy.Slice(s * f, f);
            float dot = System.Numerics.Tensors.TensorPrimitives.Dot(ys, gs);
            for (int i = 0; i < f; i++) dx[s * f + i] = ys[i] * (gs[i] - dot);
        }
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>();
}
