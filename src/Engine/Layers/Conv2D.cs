using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// 2-D convolution (Keras <c>Conv2D</c>): x <c>(N, H, W, C)</c>, kernel <c>(KH, KW, C, F)</c>,
/// bias <c>(F)</c>, y <c>(N, OH, OW, F)</c>, with an optional fused activation. Computed as
/// im2col + GEMM over chunks of samples (a 1×1 stride-1 convolution is a plain GEMM on x).
/// Forward keeps nothing but its output; backward re-unfolds x, which costs less than storing
/// the whole im2col matrix for the batch.
/// </summary>
public sealed class Conv2D : Layer
{
    // Rows of the im2col matrix per chunk: large enough for an efficient GEMM, small enough
    // (≈ 4 MB at K = 288) that the patch matrix stays in the outer caches.
    private const int TargetChunkRows = 4096;

    private ConvGeometry _g;
    private int _chunkSamples;
    private float[] _cols = [];
    private float[] _dyScratch = [];

    /// <summary>Creates a convolution.</summary>
    /// <param name="filters">Output channels F.</param>
    /// <param name="kernelSize">Kernel height and width (square).</param>
    /// <param name="stride">Stride along height and width.</param>
    /// <param name="padding">Padding rule; <see cref="PaddingMode.Explicit"/> uses <paramref name="pad"/>.</param>
    /// <param name="pad">Explicit padding on every side, in pixels.</param>
    /// <param name="useBias">Whether the layer adds a bias.</param>
    /// <param name="activation">Activation fused into the layer.</param>
    /// <param name="name">Layer name; generated Keras-style when null.</param>
    public Conv2D(int filters, int kernelSize, int stride = 1, PaddingMode padding = PaddingMode.Valid, int pad = 0,
        bool useBias = true, Activation activation = Activation.None, string? name = null)
        : this(filters, kernelSize, kernelSize, stride, stride, padding, pad, pad, useBias, activation, name) { }

    /// <summary>Creates a convolution with separate height and width settings.</summary>
    public Conv2D(int filters, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth,
        PaddingMode padding, int padHeight, int padWidth, bool useBias, Activation activation, string? name) : base(name)
    {
        Filters = filters;
        KernelHeight = kernelHeight;
        KernelWidth = kernelWidth;
        StrideHeight = strideHeight;
        StrideWidth = strideWidth;
        Padding = padding;
        PadHeight = padHeight;
        PadWidth = padWidth;
        UseBias = useBias;
        Activation = activation;
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }
    /// <summary>Kernel height.</summary>
    public int KernelHeight { get; }
    /// <summary>Kernel width.</summary>
    public int KernelWidth { get; }
    /// <summary>Vertical stride.</summary>
    public int StrideHeight { get; }
    /// <summary>Horizontal stride.</summary>
    public int StrideWidth { get; }
    /// <summary>Padding rule.</summary>
    public PaddingMode Padding { get; }
    /// <summary>Explicit vertical padding per side.</summary>
    public int PadHeight { get; }
    /// <summary>Explicit horizontal padding per side.</summary>
    public int PadWidth { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }
    /// <summary>Fused activation.</summary>
    public Activation Activation { get; }

    /// <inheritdoc/>
    public override string TypeName => "Conv2D";
    /// <inheritdoc/>
    public override string DefaultNameStem => "conv2d";

    /// <summary>The resolved window geometry, once built.</summary>
    public ConvGeometry Geometry => _g;

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> Parameters
    {
        get
        {
            int c = InputShape.Rank == 3 ? InputShape.Channels : 0;
            int receptive = KernelHeight * KernelWidth;
            var kernel = new ParameterSpec("kernel", new TensorShape(KernelHeight, KernelWidth, Math.Max(c, 1), Filters),
                Initializer.GlorotUniform, receptive * c, receptive * Filters);
            return UseBias ? [kernel, new ParameterSpec("bias", TensorShape.Vector(Filters), Initializer.Zeros)] : [kernel];
        }
    }

    /// <inheritdoc/>
    public override long MultAdds => (long)_g.OutputPixels * _g.PatchSize * Filters;

    internal override bool BackwardUsesOutput => Activation != Activation.None;

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input)
    {
        RequireImage(input);
        if (Filters <= 0) throw BuildError($"filters must be positive, got {Filters}");
        if (KernelHeight <= 0 || KernelWidth <= 0) throw BuildError($"kernel size must be positive, got {KernelHeight}×{KernelWidth}");
        if (StrideHeight <= 0 || StrideWidth <= 0) throw BuildError($"stride must be positive, got {StrideHeight}×{StrideWidth} (input shape {input})");
        if (PadHeight < 0 || PadWidth < 0) throw BuildError($"padding must not be negative, got {PadHeight}×{PadWidth}");
        _g = WindowShapes.Resolve(this, input, KernelHeight, KernelWidth, StrideHeight, StrideWidth, Padding, PadHeight, PadWidth);
        return TensorShape.Image(_g.OutputHeight, _g.OutputWidth, Filters);
    }

    internal override void Allocate(int maxBatch)
    {
        _chunkSamples = Math.Clamp(TargetChunkRows / Math.Max(_g.OutputPixels, 1), 1, maxBatch);
        if (!_g.IsPointwise) _cols = new float[_chunkSamples * _g.OutputPixels * _g.PatchSize];
        _dyScratch = Activation != Activation.None ? new float[maxBatch * OutputShape.Size] : [];
    }

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int k = _g.PatchSize, outSize = OutputShape.Size;
        ReadOnlySpan<float> kernel = Weight(0);
        for (int s = 0; s < batch; s += _chunkSamples)
        {
            int n = Math.Min(_chunkSamples, batch - s);
            int rows = n * _g.OutputPixels;
            var a = Patches(x, s, n);
            Gemm.Multiply(false, false, rows, Filters, k, a, k, kernel, Filters, y.Slice(s * outSize, n * outSize), Filters, accumulate: false, threads: Threads);
        }
        var all = y.Slice(0, batch * outSize);
        if (UseBias) Simd.AddBiasRows(all, Weight(1), batch * _g.OutputPixels);
        ParallelElementwise.Activate(all, Activation, Threads);
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        int k = _g.PatchSize, inSize = InputShape.Size, outSize = OutputShape.Size;
        int totalRows = batch * _g.OutputPixels;
        ReadOnlySpan<float> g = dy.Slice(0, batch * outSize);
        if (Activation != Activation.None)
        {
            ParallelElementwise.ReluGradient(y.Slice(0, batch * outSize), g, _dyScratch, g.Length, Simd.CapOf(Activation), Threads);
            g = _dyScratch.AsSpan(0, batch * outSize);
        }

        if (Trainable)
        {
            if (UseBias) Simd.SumRows(g, totalRows, Gradient(1));
            var dKernel = Gradient(0);
            for (int s = 0; s < batch; s += _chunkSamples)
            {
                int n = Math.Min(_chunkSamples, batch - s);
                int rows = n * _g.OutputPixels;
                var a = Patches(x, s, n);
                // dK (K×F) += colsᵀ (K×rows) · dy (rows×F), chunks in sample order.
                Gemm.Multiply(true, false, k, Filters, rows, a, k, g.Slice(s * outSize, n * outSize), Filters, dKernel, Filters, accumulate: s > 0, threads: Threads);
            }
        }

        if (!computeInputGradient) return;
        ReadOnlySpan<float> kernel = Weight(0);
        for (int s = 0; s < batch; s += _chunkSamples)
        {
            int n = Math.Min(_chunkSamples, batch - s);
            int rows = n * _g.OutputPixels;
            var gy = g.Slice(s * outSize, n * outSize);
            if (_g.IsPointwise)
            {
                // dx (rows×C) = dy (rows×F) · Kᵀ (F×C).
                Gemm.Multiply(false, true, rows, k, Filters, gy, Filters, kernel, Filters, dx.Slice(s * inSize, n * inSize), k, accumulate: false, threads: Threads);
            }
            else
            {
                var dcols = _cols.AsSpan(0, rows * k);
                Gemm.Multiply(false, true, rows, k, Filters, gy, Filters, kernel, Filters, dcols, k, accumulate: false, threads: Threads);
                Im2Col.Fold(dcols, n, _g, dx.Slice(s * inSize, n * inSize));
            }
        }
    }

    // The patch matrix of samples [s, s + n): x itself for a pointwise convolution, else unfolded into _cols.
    private ReadOnlySpan<float> Patches(ReadOnlySpan<float> x, int s, int n)
    {
        int inSize = InputShape.Size, rows = n * _g.OutputPixels;
        if (_g.IsPointwise) return x.Slice(s * inSize, rows * _g.PatchSize);
        Im2Col.Unfold(x.Slice(s * inSize, n * inSize), n, _g, _cols);
        return _cols.AsSpan(0, rows * _g.PatchSize);
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>
    {
        ["filters"] = Filters,
        ["kernel_size"] = new[] { KernelHeight, KernelWidth },
        ["strides"] = new[] { StrideHeight, StrideWidth },
        ["padding"] = WindowShapes.PaddingName(Padding, PadHeight, PadWidth),
        ["use_bias"] = UseBias,
        ["activation"] = ActivationNames.ToName(Activation),
    };
}
