using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Rectified linear unit (Keras <c>ReLU</c>): y = min(max(x, 0), max_value). Backward uses the
/// output: the gradient passes where 0 &lt; y &lt; max_value.
/// </summary>
public class ReLU : Layer
{
    /// <summary>Creates a ReLU, capped at <paramref name="maxValue"/> when given (6 gives ReLU6).</summary>
    public ReLU(float? maxValue = null, string? name = null) : base(name)
    {
        if (maxValue is { } m && !(m > 0)) throw new ModelBuildException($"{name ?? "re_lu"} (ReLU): max_value must be positive, got {m}");
        MaxValue = maxValue;
    }

    /// <summary>The cap, or null for a plain ReLU.</summary>
    public float? MaxValue { get; }

    /// <inheritdoc/>
    public override string TypeName => "ReLU";
    /// <inheritdoc/>
    public override string DefaultNameStem => "re_lu";

    internal override bool BackwardUsesOutput => true;

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input) => input;

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        ParallelElementwise.Relu(x, y, batch * InputShape.Size, MaxValue ?? float.PositiveInfinity, Threads);
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (!computeInputGradient) return;
        ParallelElementwise.ReluGradient(y, dy, dx, batch * InputShape.Size, MaxValue ?? float.PositiveInfinity, Threads);
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?> { ["max_value"] = MaxValue };
}

/// <summary>ReLU capped at 6, as MobileNet uses it: <c>ReLU(max_value=6)</c>.</summary>
public sealed class ReLU6(string? name = null) : ReLU(6f, name);
