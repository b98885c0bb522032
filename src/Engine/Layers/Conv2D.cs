using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// 2-D convolution (Keras <c>Conv2D</c>): x <c>(N, H, W, C)</c>, kernel <c>(KH, KW, C, F)</c>,
/// bias <c>(F)</c>, y <c>(N, OH, OW, F)</c>, with an optional fused activation. Computed as
/// implicit-im2col GEMM over chunks of samples: the products unfold each cache block of the patch
/// matrix right before packing it, so the matrix is never written out (a 1×1 stride-1 convolution
/// is a plain GEMM on x); the input gradient goes through a patch-gradient matrix and col2im. Threads take whole chunks; the kernel gradient is summed
/// per chunk and the chunks added in order, so results do not depend on the thread count.
/// </summary>
public sealed class Conv2D : Layer
{
    // Rows of the im2col matrix per chunk: large enough for an efficient GEMM, small enough
    // (≈ 4 MB at K = 288) that the patch matrix stays in the outer caches.
    private const int TargetChunkRows = 4096;

    private ConvGeometry _g;
    private int _chunkSamples;
    private float[][] _colsPerPart = [];
    private float[][] _planarPerPart = [];
    private float[] _dKernelChunks = [];
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
    internal enum ConvPath { Auto, Im2Col, Direct, Planar }

    /// <summary>
    /// Pins the algorithm (tests and benchmarks); by default it is chosen by shape. <see cref="ConvPath.Planar"/>
    /// on a shape it does not take (<see cref="PlanarConvKernels.Supports"/>) means <see cref="ConvPath.Direct"/>.
    /// </summary>
    internal ConvPath Path { get; set; }

    /// <summary>The algorithm the layer runs, once built.</summary>
    internal ConvPath ResolvedPath => Path switch
    {
        ConvPath.Planar or ConvPath.Auto when !_g.IsPointwise && PlanarConvKernels.Supports(in _g, Filters) => ConvPath.Planar,
        ConvPath.Planar or ConvPath.Direct when Filters <= 32 => ConvPath.Direct,
        // A thin im2col matrix (a patch of at most 32 values, or at most 4 filters: e.g. a first layer on
        // one input channel) wastes most of the GEMM tile and costs more to build than to multiply.
        // The direct forward keeps a pixel's outputs in registers, so it takes at most 32 filters.
        ConvPath.Auto when Filters <= 32 && !_g.IsPointwise && (_g.PatchSize <= 32 || Filters <= 4) => ConvPath.Direct,
        _ => ConvPath.Im2Col,
    };

    private bool Direct => ResolvedPath == ConvPath.Direct;

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
        _colsPerPart = [];
        _dKernelChunks = new float[(maxBatch + _chunkSamples - 1) / _chunkSamples * _g.PatchSize * Filters];
        _dyScratch = Activation != Activation.None ? new float[maxBatch * OutputShape.Size] : [];
        int fp = DirectConvKernels.PaddedFilters(Filters);
        _kernelPadded = Filters <= 32 ? new float[_g.PatchSize * fp] : [];
        _biasPadded = Filters <= 32 ? new float[fp] : [];
        _planarPerPart = [];
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
        // The direct and planar kernels start each output at its bias; the GEMM's get it added after.
        Span<float> bias = !UseBias ? default : path == ConvPath.Direct ? _biasPadded : path == ConvPath.Planar ? Weight(1) : default;
        fixed (float* px = x, py = y, pk = path == ConvPath.Direct ? _kernelPadded.AsSpan() : Weight(0), pb = bias)
            RunChunks(px, py, pk, pb, null, batch, Pass.Forward);
        var all = y.Slice(0, batch * outSize);
        if (UseBias && path == ConvPath.Im2Col) Simd.AddBiasRows(all, Weight(1), batch * _g.OutputPixels);
        ParallelElementwise.Activate(all, Activation, Threads);
    }

    internal override unsafe void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        ReadOnlySpan<float> g = ActivationGradient(y, dy, batch);
        if (!Trainable && !computeInputGradient) return;
        if (Trainable && UseBias) Simd.SumRows(g, batch * _g.OutputPixels, Gradient(1));
        var pass = (Trainable ? Pass.KernelGradient : 0) | (computeInputGradient ? Pass.InputGradient : 0);
        fixed (float* px = x, pg = g, pdx = dx, pk = Weight(0), pdk = _dKernelChunks)
            RunChunks(px, pg, pk, pdx, pdk, batch, pass);
        if (Trainable) SumKernelChunks(batch);
    }

    internal override bool SupportsGroupedGradients => true;

    internal override unsafe void BackwardGrouped(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx,
        int batch, bool computeInputGradient, ReadOnlySpan<int> groupSizes, IGradientSink sink)
    {
        ReadOnlySpan<float> g = ActivationGradient(y, dy, batch);
        int inSize = InputShape.Size, outSize = OutputShape.Size;
        fixed (float* px = x, pg = g, pdx = dx, pk = Weight(0), pdk = _dKernelChunks)
        {
            if (Trainable)
            {
                // Each group's chunks start at the group's first sample, as they would in a batch of its own.
                int start = 0;
                foreach (int n in groupSizes)
                {
                    if (UseBias) Simd.SumRows(g.Slice(start * outSize, n * outSize), n * _g.OutputPixels, Gradient(1));
                    RunChunks(px + (long)start * inSize, pg + (long)start * outSize, pk, null, pdk, n, Pass.KernelGradient);
                    SumKernelChunks(n);
                    sink.Accept(ParameterOffset, ParameterCount);
                    start += n;
                }
            }
            if (computeInputGradient) RunChunks(px, pg, pk, pdx, pdk, batch, Pass.InputGradient);
        }
    }

    private ReadOnlySpan<float> ActivationGradient(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, int batch) =>
        ParallelElementwise.FusedActivationGradient(Activation, y, dy, _dyScratch, batch * OutputShape.Size, Threads);

    // dK = Σ over chunks, in chunk order, of that chunk's colsᵀ · dy: the same sum for any thread count.
    private void SumKernelChunks(int batch)
    {
        var dKernel = Gradient(0);
        int kernelSize = dKernel.Length, chunks = (batch + _chunkSamples - 1) / _chunkSamples;
        _dKernelChunks.AsSpan(0, kernelSize).CopyTo(dKernel);
        for (int c = 1; c < chunks; c++) Simd.Add(dKernel, _dKernelChunks.AsSpan(c * kernelSize, kernelSize), dKernel);
    }

    [Flags]
    private enum Pass { Forward = 1, KernelGradient = 2, InputGradient = 4 }

    // Chunks of samples are independent (each has its own rows of y or dx and its own slot of the
    // kernel gradient), so threads take runs of whole chunks, each with its own im2col buffer.
    // In the forward pass dxOrBias is the bias (or null); in the backward pass, dx.
    private unsafe void RunChunks(float* x, float* yOrDy, float* kernel, float* dxOrBias, float* dKernelChunks, int batch, Pass pass)
    {
        int chunks = (batch + _chunkSamples - 1) / _chunkSamples;
        int parts = Math.Min(Threads, chunks);
        // Grow only when the thread count does; steady-state steps allocate nothing.
        var path = ResolvedPath;
        if (path == ConvPath.Im2Col && !_g.IsPointwise) EnsureParts(ref _colsPerPart, parts, _chunkSamples * _g.OutputPixels * _g.PatchSize);
        if (path == ConvPath.Planar) EnsureParts(ref _planarPerPart, parts, new PlanarLayout(in _g, Filters).ScratchSize);
        // One chunk (a small batch): the threads split the matrix products instead.
        _job.Set(this, x, yOrDy, kernel, dxOrBias, dKernelChunks, batch, pass, parts == 1 ? Threads : 1);
        ParallelJobs.Run(_job, parts);
    }

    // The planar kernels rely on their scratch starting zeroed (its padding is never written): new arrays only.
    private static void EnsureParts(ref float[][] perPart, int parts, int size)
    {
        if (perPart.Length >= parts) return;
        int old = perPart.Length;
        Array.Resize(ref perPart, parts);
        for (int p = old; p < parts; p++) perPart[p] = new float[size];
    }

    private sealed unsafe class Job : IParallelJob
    {
        private Conv2D _layer = null!;
        private float* _x, _yOrDy, _kernel, _dx, _dKernelChunks;
        private int _batch, _gemmThreads;
        private Pass _pass;

        public void Set(Conv2D layer, float* x, float* yOrDy, float* kernel, float* dx, float* dKernelChunks, int batch, Pass pass, int gemmThreads)
        {
            _gemmThreads = gemmThreads;
            _layer = layer;
            _x = x; _yOrDy = yOrDy; _kernel = kernel; _dx = dx; _dKernelChunks = dKernelChunks;
            _batch = batch; _pass = pass;
        }

        public void RunPart(int part, int parts)
        {
            var layer = _layer;
            ref readonly ConvGeometry g = ref layer._g;
            int k = g.PatchSize, f = layer.Filters, inSize = layer.InputShape.Size, outSize = layer.OutputShape.Size, per = layer._chunkSamples;
            int chunks = (_batch + per - 1) / per;
            var path = layer.ResolvedPath;
            bool direct = path != ConvPath.Im2Col;
            float[] cols = g.IsPointwise || direct ? [] : layer._colsPerPart[part];
            var kernel = new ReadOnlySpan<float>(_kernel, k * f);
            for (int c = ParallelJobs.Start(chunks, part, parts), end = ParallelJobs.Start(chunks, part + 1, parts); c < end; c++)
            {
                int s = c * per, n = Math.Min(per, _batch - s), rows = n * g.OutputPixels;
                var x = new ReadOnlySpan<float>(_x + (long)s * inSize, n * inSize);
                var yOrDy = new Span<float>(_yOrDy + (long)s * outSize, n * outSize);
                if (path == ConvPath.Planar)
                {
                    fixed (float* scratch = layer._planarPerPart[part]) RunPlanar(in g, c, s, n, inSize, outSize, k * f, f, scratch);
                    continue;
                }
                if (direct)
                {
                    RunDirect(in g, c, s, n, inSize, outSize, k * f, f);
                    continue;
                }
                // The patch matrix is never written out: the products unfold each cache block of it as they pack it
                // (a pointwise convolution's patch matrix is x itself).
                float* xs = _x + (long)s * inSize;
                if (_pass == Pass.Forward)
                {
                    if (g.IsPointwise) Gemm.Multiply(false, false, rows, f, k, x, k, kernel, f, yOrDy, f, accumulate: false, threads: _gemmThreads);
                    else Gemm.MultiplyPatches(false, rows, f, k, xs, in g, kernel, f, yOrDy, f, accumulate: false, threads: _gemmThreads);
                    continue;
                }
                if ((_pass & Pass.KernelGradient) != 0)
                {
                    // This chunk's dK (K×F) = colsᵀ (K×rows) · dy (rows×F).
                    var slot = new Span<float>(_dKernelChunks + (long)c * k * f, k * f);
                    if (g.IsPointwise) Gemm.Multiply(true, false, k, f, rows, x, k, yOrDy, f, slot, f, accumulate: false, threads: _gemmThreads);
                    else Gemm.MultiplyPatches(true, k, f, rows, xs, in g, yOrDy, f, slot, f, accumulate: false, threads: _gemmThreads);
                }
                if ((_pass & Pass.InputGradient) == 0) continue;
                var dx = new Span<float>(_dx + (long)s * inSize, n * inSize);
                if (g.IsPointwise)
                {
                    // dx (rows×C) = dy (rows×F) · Kᵀ (F×C).
                    Gemm.Multiply(false, true, rows, k, f, yOrDy, f, kernel, f, dx, k, accumulate: false, threads: _gemmThreads);
                }
                else
                {
                    var dcols = cols.AsSpan(0, rows * k);
                    Gemm.Multiply(false, true, rows, k, f, yOrDy, f, kernel, f, dcols, k, accumulate: false, threads: _gemmThreads);
                    Im2Col.Fold(dcols, n, g, dx);
                }
            }
        }

        private void RunPlanar(in ConvGeometry g, int chunk, int s, int n, int inSize, int outSize, int kernelSize, int f, float* scratch)
        {
            if (_pass == Pass.Forward)
            {
                for (int i = s; i < s + n; i++) PlanarConvKernels.Forward(_x + (long)i * inSize, _kernel, _dx, _yOrDy + (long)i * outSize, in g, f, scratch);
                return;
            }
            float* slot = null;
            if ((_pass & Pass.KernelGradient) != 0)
            {
                slot = _dKernelChunks + (long)chunk * kernelSize;
                new Span<float>(slot, kernelSize).Clear();
            }
            float* dx = (_pass & Pass.InputGradient) != 0 ? _dx + (long)s * inSize : null;
            PlanarConvKernels.Backward(_x + (long)s * inSize, _yOrDy + (long)s * outSize, n, _kernel, slot, dx, in g, f, scratch);
        }

        private void RunDirect(in ConvGeometry g, int chunk, int s, int n, int inSize, int outSize, int kernelSize, int f)
        {
            if (_pass == Pass.Forward)
            {
                for (int i = s; i < s + n; i++) DirectConvKernels.Forward(_x + (long)i * inSize, _kernel, _dx, _yOrDy + (long)i * outSize, in g, f);
                return;
            }
            if ((_pass & Pass.KernelGradient) != 0)
            {
                float* slot = _dKernelChunks + (long)chunk * kernelSize;
                new Span<float>(slot, kernelSize).Clear();
                DirectConvKernels.KernelGradient(_x + (long)s * inSize, _yOrDy + (long)s * outSize, n, slot, in g, f);
            }
            if ((_pass & Pass.InputGradient) != 0)
                for (int i = s; i < s + n; i++) DirectConvKernels.InputGradient(_yOrDy + (long)i * outSize, _kernel, _dx + (long)i * inSize, in g, f);
        }
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
