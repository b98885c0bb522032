using System.Numerics;
using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// 2-D convolution (Keras <c>Conv2D</c>): x <c>(N, H, W, C)</c>, kernel <c>(KH, KW, C, F)</c>,
/// bias <c>(F)</c>, y <c>(N, OH, OW, F)</c>, with an optional fused activation. The algorithm is chosen
/// by shape (<see cref="ResolvedPath"/>): Winograd F(2×2, 3×3) for 3×3 stride-1 layers with whole
/// vectors of channels and filters; planar loops for stride-1 layers with fewer than 8 filters and at
/// most 4 channels; direct loops for other thin patch matrices; otherwise implicit-im2col GEMM (each
/// cache block of the patch matrix unfolded right before it is packed; a 1×1 stride-1 convolution is a
/// plain GEMM on x) with the input gradient through a patch-gradient matrix and col2im. Every
/// algorithm works over fixed chunks of samples that threads take whole; the kernel gradient is summed
/// per chunk and the chunks added in order, so results do not depend on the thread count.
/// </summary>
public sealed partial class Conv2D : Layer
{
    // Rows of the im2col matrix per chunk: large enough for an efficient GEMM, small enough
    // (≈ 4 MB at K = 288) that the patch matrix stays in the outer caches.
    private const int TargetChunkRows = 4096;
    private const int WinogradChunkRows = 4608;

    private ConvGeometry _g;
    private int _chunkSamples;
    private float[][] _colsPerPart = [];
    private float[][] _planarPerPart = [];
    private PlanarLayout _planarLayout;
    private float[][] _winogradPerPart = [];
    // The kernel's Winograd transforms: (16, C, F) for the forward pass, (16, F, C) of the flipped kernel for the input gradient.
    private float[] _winogradKernel = [];
    private float[] _winogradInputKernel = [];
    // The input gradient as a forward pass: over dy (OH, OW, F), padded so that its output is dx (H, W, C).
    private ConvGeometry _inputGradientGeometry;
    private float[] _dKernelChunks = [];
    private float[] _dBiasChunks = [];
    private float[] _kernelPadded = [];
    private float[] _biasPadded = [];
    private readonly Job _job = new();
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

    /// <summary>How a convolution is computed; <see cref="Auto"/> picks by shape.</summary>
    internal enum ConvPath { Auto, Im2Col, Direct, Planar, Winograd }

    /// <summary>
    /// Pins the algorithm (tests and benchmarks); by default it is chosen by shape. <see cref="ConvPath.Planar"/>
    /// on a shape it does not take (<see cref="PlanarConvKernels.Supports"/>) means <see cref="ConvPath.Direct"/>,
    /// <see cref="ConvPath.Winograd"/> on one it does not take (<see cref="WinogradKernels.Supports"/>) im2col.
    /// </summary>
    internal ConvPath Path { get; set; }

    /// <summary>The algorithm the layer runs, once built.</summary>
    internal ConvPath ResolvedPath => Path switch
    {
        ConvPath.Planar or ConvPath.Auto when PlanarConvKernels.Supports(in _g, Filters) => ConvPath.Planar,
        ConvPath.Planar or ConvPath.Direct when Filters <= 32 => ConvPath.Direct,
        // 3×3 stride 1 with whole vectors of channels and filters: 16 multiply-adds per 2×2 outputs instead of 36.
        ConvPath.Winograd or ConvPath.Auto when WinogradKernels.Supports(in _g, Filters) => ConvPath.Winograd,
        // A thin im2col matrix (a patch of at most 32 values, or at most 4 filters: e.g. a first layer on
        // one input channel) wastes most of the GEMM tile and costs more to build than to multiply.
        // The direct forward keeps a pixel's outputs in registers, so it takes at most 32 filters.
        ConvPath.Auto when Filters <= 32 && !_g.IsPointwise && (_g.PatchSize <= 32 || Filters <= 4) => ConvPath.Direct,
        _ => ConvPath.Im2Col,
    };

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
        // Winograd works in its own blocks of tiles, so its chunks are only the threads' unit of work: small enough
        // that two or three threads get nearly equal shares of a batch (8 samples at 24×24: 16 chunks in 128).
        var path = ResolvedPath;
        int chunkRows = path == ConvPath.Winograd ? WinogradChunkRows : TargetChunkRows;
        // A power of two (then capped at the batch, which cannot change a result: a batch is then one chunk either
        // way) so that batches of 64, 128 or 256 cut into chunks that two or four threads share evenly.
        _chunkSamples = Math.Min(1 << BitOperations.Log2((uint)Math.Max(chunkRows / Math.Max(_g.OutputPixels, 1), 1)), maxBatch);
        _colsPerPart = [];
        _dKernelChunks = new float[(maxBatch + _chunkSamples - 1) / _chunkSamples * _g.PatchSize * Filters];
        _dBiasChunks = UseBias ? new float[(maxBatch + _chunkSamples - 1) / _chunkSamples * Filters] : [];
        _dyScratch = Activation != Activation.None ? new float[maxBatch * OutputShape.Size] : [];
        int fp = DirectConvKernels.PaddedFilters(Filters);
        _kernelPadded = Filters <= 32 ? new float[_g.PatchSize * fp] : [];
        _biasPadded = Filters <= 32 ? new float[fp] : [];
        _planarPerPart = [];
        _planarLayout = path == ConvPath.Planar ? new PlanarLayout(in _g, Filters) : default;
        _winogradPerPart = [];
        bool winograd = path == ConvPath.Winograd;
        _winogradKernel = winograd ? new float[WinogradKernels.TransformedKernelSize(_g.Channels, Filters)] : [];
        _winogradInputKernel = winograd ? new float[_winogradKernel.Length] : [];
        _inputGradientGeometry = winograd
            ? new ConvGeometry(_g.OutputHeight, _g.OutputWidth, Filters, _g.KernelHeight, _g.KernelWidth, 1, 1,
                _g.KernelHeight - 1 - _g.PadTop, _g.KernelWidth - 1 - _g.PadLeft, _g.InputHeight, _g.InputWidth)
            : default;
    }

    internal override unsafe void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int outSize = OutputShape.Size;
        var path = ResolvedPath;
        if (path == ConvPath.Direct)
        {
            // The direct kernel reads whole vectors of filters: this step's weights, padded.
            fixed (float* pk = Weight(0), pkp = _kernelPadded) DirectConvKernels.PadKernel(pk, _g.PatchSize, Filters, pkp);
            if (UseBias) Weight(1).CopyTo(_biasPadded);
        }
        if (path == ConvPath.Winograd)
            fixed (float* pk = Weight(0), pu = _winogradKernel) WinogradKernels.TransformKernel(pk, _g.Channels, Filters, pu, flipTranspose: false);
        // The direct and planar kernels start each output at its bias; the products' outputs get it added after.
        Span<float> bias = !UseBias ? default : path == ConvPath.Direct ? _biasPadded : path == ConvPath.Planar ? Weight(1) : default;
        Span<float> kernel = path switch { ConvPath.Direct => _kernelPadded, ConvPath.Winograd => _winogradKernel, _ => Weight(0) };
        fixed (float* px = x, py = y, pk = kernel, pb = bias)
            RunChunks(px, py, pk, pb, null, batch, Pass.Forward);
        var all = y.Slice(0, batch * outSize);
        var productBias = UseBias && path is ConvPath.Im2Col or ConvPath.Winograd ? Weight(1) : default;
        ParallelElementwise.AddBiasAndActivate(all, productBias, Filters, Activation, Threads);
    }

    internal override unsafe void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (!Trainable && !computeInputGradient) return;
        // With chunks spread over threads, each chunk masks its own rows of dy (and sums them for the bias)
        // while they are in cache; a batch that runs chunk by chunk masks it all in one parallel pass first.
        bool maskInChunks = Activation != Activation.None && PartsFor(batch) > 1;
        ReadOnlySpan<float> g = maskInChunks ? _dyScratch.AsSpan(0, batch * OutputShape.Size) : ActivationGradient(y, dy, batch);
        var pass = (Trainable ? Pass.KernelGradient : 0) | (computeInputGradient ? Pass.InputGradient : 0);
        fixed (float* px = x, py = y, pdy = dy, pg = g, pdx = dx, pk = InputGradientKernel(computeInputGradient), pdk = _dKernelChunks, pdb = _dBiasChunks)
            RunChunks(px, pg, pk, pdx, pdk, batch, pass, maskInChunks ? py : null, pdy, Trainable && UseBias ? pdb : null);
        if (Trainable) SumKernelChunks(batch);
    }

    internal override bool SupportsGroupedGradients => true;

    internal override unsafe void BackwardGrouped(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx,
        int batch, bool computeInputGradient, ReadOnlySpan<int> groupSizes, IGradientSink sink)
    {
        ReadOnlySpan<float> g = ActivationGradient(y, dy, batch);
        int inSize = InputShape.Size, outSize = OutputShape.Size;
        fixed (float* px = x, pg = g, pdx = dx, pk = InputGradientKernel(computeInputGradient), pdk = _dKernelChunks, pdb = _dBiasChunks)
        {
            if (Trainable)
            {
                // Each group's chunks start at the group's first sample, as they would in a batch of its own. The input
                // gradient comes in the same pass (each sample's depends on its own dy alone, whatever the chunks), so
                // every chunk of dy is read once while it is in cache.
                var pass = Pass.KernelGradient | (computeInputGradient ? Pass.InputGradient : 0);
                int start = 0;
                foreach (int n in groupSizes)
                {
                    RunChunks(px + (long)start * inSize, pg + (long)start * outSize, pk, computeInputGradient ? pdx + (long)start * inSize : null,
                        pdk, n, pass, null, null, UseBias ? pdb : null);
                    SumKernelChunks(n);
                    sink.Accept(ParameterOffset, ParameterCount);
                    start += n;
                }
            }
            else if (computeInputGradient) RunChunks(px, pg, pk, pdx, pdk, batch, Pass.InputGradient);
        }
    }

    // The kernel the input gradient reads: the weights, or for Winograd the transform of the flipped kernel.
    private unsafe Span<float> InputGradientKernel(bool computeInputGradient)
    {
        if (!computeInputGradient || ResolvedPath != ConvPath.Winograd) return Weight(0);
        fixed (float* pk = Weight(0), pu = _winogradInputKernel) WinogradKernels.TransformKernel(pk, _g.Channels, Filters, pu, flipTranspose: true);
        return _winogradInputKernel;
    }

    private ReadOnlySpan<float> ActivationGradient(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, int batch) =>
        ParallelElementwise.FusedActivationGradient(Activation, y, dy, _dyScratch, batch * OutputShape.Size, Threads);

    // dK = Σ over chunks, in chunk order, of that chunk's colsᵀ · dy: the same sum for any thread count.
    // The bias gradient likewise: Σ over chunks, in chunk order, of the chunk's rows summed by Simd.SumRows.
    private void SumKernelChunks(int batch)
    {
        int chunks = (batch + _chunkSamples - 1) / _chunkSamples;
        SumSlots(_dKernelChunks, Gradient(0), chunks);
        if (UseBias) SumSlots(_dBiasChunks, Gradient(1), chunks);
    }

    private static void SumSlots(float[] slots, Span<float> total, int chunks)
    {
        int size = total.Length;
        slots.AsSpan(0, size).CopyTo(total);
        for (int c = 1; c < chunks; c++) Simd.Add(total, slots.AsSpan(c * size, size), total);
    }

    [Flags]
    private enum Pass { Forward = 1, KernelGradient = 2, InputGradient = 4 }

    // Chunks of samples are independent (each has its own rows of y or dx and its own slot of the
    // kernel gradient), so threads take runs of whole chunks, each with its own im2col buffer.
    // In the forward pass dxOrBias is the bias (or null); in the backward pass, dx.
    // In a backward pass each chunk first writes its rows of yOrDy as dy masked where maskY is flat (when maskY is
    // given), then sums them into its slot of dBiasChunks (when given).
    private unsafe void RunChunks(float* x, float* yOrDy, float* kernel, float* dxOrBias, float* dKernelChunks, int batch, Pass pass,
        float* maskY = null, float* maskDy = null, float* dBiasChunks = null)
    {
        var path = ResolvedPath;
        int parts = PartsFor(batch);
        // Grow only when the thread count does; steady-state steps allocate nothing.
        if (path == ConvPath.Im2Col && !_g.IsPointwise) EnsureParts(ref _colsPerPart, parts, _chunkSamples * _g.OutputPixels * _g.PatchSize);
        if (path == ConvPath.Planar) EnsureParts(ref _planarPerPart, parts, _planarLayout.ScratchSize);
        if (path == ConvPath.Winograd) EnsureParts(ref _winogradPerPart, parts, WinogradKernels.ScratchSize(_g.Channels, Filters));
        // One chunk (a small batch): the threads split the matrix products instead.
        _job.Set(this, x, yOrDy, kernel, dxOrBias, dKernelChunks, batch, pass, parts == 1 ? Threads : 1);
        _job.SetPrologue(maskY, maskDy, Simd.CapOf(Activation), dBiasChunks);
        ParallelJobs.Run(_job, parts);
    }

    // Threads that share a batch's chunks (1: the chunks run in turn, their products split across the threads).
    private int PartsFor(int batch)
    {
        int chunks = (batch + _chunkSamples - 1) / _chunkSamples;
        int parts = Math.Min(Threads, chunks);
        // Few large chunks that the threads cannot share evenly (two chunks of 83 and 45 samples at 7×7): the
        // products run one chunk at a time, each split across the threads (same bits, the split is never along k).
        if (ResolvedPath == ConvPath.Im2Col && parts > 1 && LargestShare(batch, chunks, parts) * parts > 1.1 * batch) parts = 1;
        return parts;
    }

    // Samples in the largest of the runs of whole chunks that ParallelJobs gives the parts.
    private int LargestShare(int batch, int chunks, int parts)
    {
        int largest = 0;
        for (int p = 0; p < parts; p++)
        {
            int c0 = ParallelJobs.Start(chunks, p, parts), c1 = ParallelJobs.Start(chunks, p + 1, parts);
            largest = Math.Max(largest, Math.Min(batch, c1 * _chunkSamples) - c0 * _chunkSamples);
        }
        return largest;
    }

    // The planar kernels rely on their scratch starting zeroed (its padding is never written): new arrays only.
    private static void EnsureParts(ref float[][] perPart, int parts, int size)
    {
        if (perPart.Length >= parts) return;
        int old = perPart.Length;
        Array.Resize(ref perPart, parts);
        for (int p = old; p < parts; p++) perPart[p] = new float[size];
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
