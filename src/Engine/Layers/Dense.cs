using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Fully connected layer (Keras <c>Dense</c>): x <c>(N, In)</c>, kernel <c>(In, Units)</c>,
/// bias <c>(Units)</c>, y <c>(N, Units)</c> = x · kernel + bias, with an optional fused activation.
/// </summary>
public sealed class Dense : Layer
{
    private float[] _dyScratch = [];

    /// <summary>Creates a dense layer.</summary>
    /// <param name="units">Output features.</param>
    /// <param name="activation">Activation fused into the layer.</param>
    /// <param name="useBias">Whether a bias is added.</param>
    /// <param name="name">Layer name; generated when null.</param>
    public Dense(int units, Activation activation = Activation.None, bool useBias = true, string? name = null) : base(name)
    {
        Units = units;
        Activation = activation;
        UseBias = useBias;
    }

    /// <summary>Output features.</summary>
    public int Units { get; }
    /// <summary>Fused activation.</summary>
    public Activation Activation { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }

    /// <inheritdoc/>
    public override string TypeName => "Dense";
    /// <inheritdoc/>
    public override string DefaultNameStem => "dense";

    private int In => InputShape.Rank == 1 ? InputShape[0] : 0;

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> Parameters
    {
        get
        {
            var kernel = new ParameterSpec("kernel", new TensorShape(Math.Max(In, 1), Units), Initializer.GlorotUniform, In, Units);
            return UseBias ? [kernel, new ParameterSpec("bias", TensorShape.Vector(Units), Initializer.Zeros)] : [kernel];
        }
    }

    /// <inheritdoc/>
    public override long MultAdds => (long)In * Units;

    internal override bool BackwardUsesOutput => Activation != Activation.None;

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input)
    {
        if (input.Rank != 1) throw BuildError($"expects a flat input (features), got {input}; add a Flatten or GlobalAveragePooling2D layer before it");
        if (Units <= 0) throw BuildError($"units must be positive, got {Units}");
        return TensorShape.Vector(Units);
    }

    internal override void Allocate(int maxBatch) =>
        _dyScratch = Activation != Activation.None ? new float[maxBatch * Units] : [];

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        var outSpan = y.Slice(0, batch * Units);
        Gemm.Multiply(false, false, batch, Units, In, x, In, Weight(0), Units, outSpan, Units, accumulate: false, threads: Threads);
        if (UseBias) Simd.AddBiasRows(outSpan, Weight(1), batch);
        ParallelElementwise.Activate(outSpan, Activation, Threads);
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        ReadOnlySpan<float> g = ActivationGradient(y, dy, batch);
        if (Trainable) KernelAndBiasGradient(x, g, batch);
        if (computeInputGradient) InputGradient(g, dx, batch);
    }

    private ReadOnlySpan<float> ActivationGradient(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, int batch) =>
        ParallelElementwise.FusedActivationGradient(Activation, y, dy, _dyScratch, batch * Units, Threads);

    private void KernelAndBiasGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> g, int batch)
    {
        // dK (In×Units) = xᵀ (In×N) · dy (N×Units)
        Gemm.Multiply(true, false, In, Units, batch, x, In, g, Units, Gradient(0), Units, accumulate: false, threads: Threads);
        if (UseBias) Simd.SumRows(g, batch, Gradient(1));
    }

    // dx (N×In) = dy (N×Units) · Kᵀ (Units×In)
    private void InputGradient(ReadOnlySpan<float> g, Span<float> dx, int batch) =>
        Gemm.Multiply(false, true, batch, In, Units, g, Units, Weight(0), Units, dx, In, accumulate: false, threads: Threads);

    internal override bool SupportsGroupedGradients => true;

    internal override void BackwardGrouped(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx,
        int batch, bool computeInputGradient, ReadOnlySpan<int> groupSizes, IGradientSink sink)
    {
        ReadOnlySpan<float> g = ActivationGradient(y, dy, batch);
        if (Trainable) GroupedKernelAndBiasGradient(x, g, groupSizes, sink);
        if (computeInputGradient) InputGradient(g, dx, batch);
    }

    // Kernel rows per block of the grouped kernel gradient: a block's float32 gradients and the sink's
    // int64 sums of them (3 × 4 bytes per parameter) stay in a core's L2 cache while every group adds
    // to them, instead of one pass over the whole kernel and its sums per group.
    private const int GroupedBlockParameters = 32 * 1024;

    // Per block of kernel rows, each group's dK rows (the same bits as the whole product: C's elements do
    // not depend on how m is split) go to the sink while they are in cache; then each group's bias.
    private void GroupedKernelAndBiasGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> g, ReadOnlySpan<int> groupSizes, IGradientSink sink)
    {
        int rows = Math.Max(1, GroupedBlockParameters / Units);
        var kernel = Gradient(0);
        for (int r0 = 0; r0 < In; r0 += rows)
        {
            int r = Math.Min(rows, In - r0);
            var block = kernel.Slice(r0 * Units, r * Units);
            for (int k = 0, start = 0; k < groupSizes.Length; start += groupSizes[k], k++)
            {
                int n = groupSizes[k];
                // dK[r0 .. r0+r) = x[:, r0 .. r0+r)ᵀ · dy of the group
                Gemm.Multiply(true, false, r, Units, n, x.Slice(start * In + r0), In, g.Slice(start * Units, n * Units), Units,
                    block, Units, accumulate: false, threads: Threads);
                sink.Accept(ParameterOffset + r0 * Units, r * Units);
            }
        }
        if (!UseBias) return;
        for (int k = 0, start = 0; k < groupSizes.Length; start += groupSizes[k], k++)
        {
            Simd.SumRows(g.Slice(start * Units, groupSizes[k] * Units), groupSizes[k], Gradient(1));
            sink.Accept(ParameterOffset + In * Units, Units);
        }
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>
    {
        ["units"] = Units,
        ["activation"] = ActivationNames.ToName(Activation),
        ["use_bias"] = UseBias,
    };
}
