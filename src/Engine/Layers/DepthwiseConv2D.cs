using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Depthwise 2-D convolution with depth multiplier 1 (Keras <c>DepthwiseConv2D</c>):
/// x <c>(N, H, W, C)</c>, kernel <c>(KH, KW, C)</c>, optional bias <c>(C)</c>, y <c>(N, OH, OW, C)</c>.
/// Each channel is filtered on its own; in NHWC the inner loop runs across channels, which
/// vectorises (<see cref="DepthwiseKernels"/>); the layer's threads split samples or channels.
/// Forward keeps nothing but its output.
/// </summary>
public sealed class DepthwiseConv2D : Layer
{
    private ConvGeometry _g;
    private float[] _dyScratch = [];
    private readonly Job _job = new();
    private float[] _dwBlocks = [];

    // Samples per kernel-gradient block: fixed, so the gradient's summation order never depends on the thread count.
    private const int BlockSamples = 8;

    /// <summary>Creates a depthwise convolution.</summary>
    public DepthwiseConv2D(int kernelSize, int stride = 1, PaddingMode padding = PaddingMode.Valid, int pad = 0,
        bool useBias = false, Activation activation = Activation.None, string? name = null) : base(name)
    {
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Pad = pad;
        UseBias = useBias;
        Activation = activation;
    }

    /// <summary>Square kernel size.</summary>
    public int KernelSize { get; }
    /// <summary>Stride along both dimensions.</summary>
    public int Stride { get; }
    /// <summary>Padding rule.</summary>
    public PaddingMode Padding { get; }
    /// <summary>Explicit padding per side.</summary>
    public int Pad { get; }
    /// <summary>Whether a bias is added (Keras's default for MobileNet: no).</summary>
    public bool UseBias { get; }
    /// <summary>Fused activation.</summary>
    public Activation Activation { get; }

    /// <inheritdoc/>
    public override string TypeName => "DepthwiseConv2D";
    /// <inheritdoc/>
    public override string DefaultNameStem => "depthwise_conv2d";

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> Parameters
    {
        get
        {
            int c = InputShape.Rank == 3 ? InputShape.Channels : 1;
            int receptive = KernelSize * KernelSize;
            // Keras's fans for the (KH, KW, C, 1) depthwise kernel.
            var kernel = new ParameterSpec("depthwise_kernel", new TensorShape(KernelSize, KernelSize, c), Initializer.GlorotUniform, receptive * c, receptive);
            return UseBias ? [kernel, new ParameterSpec("bias", TensorShape.Vector(c), Initializer.Zeros)] : [kernel];
        }
    }

    /// <inheritdoc/>
    public override long MultAdds => (long)_g.OutputPixels * KernelSize * KernelSize * _g.Channels;

    internal override bool BackwardUsesOutput => Activation != Activation.None;

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input)
    {
        RequireImage(input);
        if (KernelSize <= 0) throw BuildError($"kernel size must be positive, got {KernelSize}");
        if (Stride <= 0) throw BuildError($"stride must be positive, got {Stride} (input shape {input})");
        if (Pad < 0) throw BuildError($"padding must not be negative, got {Pad}");
        _g = WindowShapes.Resolve(this, input, KernelSize, KernelSize, Stride, Stride, Padding, Pad, Pad);
        return TensorShape.Image(_g.OutputHeight, _g.OutputWidth, input.Channels);
    }

    internal override void Allocate(int maxBatch)
    {
        _dyScratch = Activation != Activation.None ? new float[maxBatch * OutputShape.Size] : [];
        _dwBlocks = new float[(maxBatch + BlockSamples - 1) / BlockSamples * KernelSize * KernelSize * _g.Channels];
    }

    internal override unsafe void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int outSize = OutputShape.Size;
        fixed (float* px = x, py = y, pw = Weight(0), pb = UseBias ? Weight(1) : default)
        {
            _job.Set(this, px, py, pw, pb, null, null, batch, backward: false, computeInputGradient: false);
            ParallelJobs.Run(_job, Math.Min(Threads, batch));
        }
        ParallelElementwise.Activate(y.Slice(0, batch * outSize), Activation, Threads);
    }

    internal override unsafe void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        int inSize = InputShape.Size, outSize = OutputShape.Size;
        var g = ParallelElementwise.FusedActivationGradient(Activation, y, dy, _dyScratch, batch * outSize, Threads);
        Span<float> dw = Trainable ? Gradient(0) : default;
        if (Trainable)
        {
            dw.Clear();
            if (UseBias) Simd.SumRows(g, batch * _g.OutputPixels, Gradient(1));
        }
        if (!Trainable && !computeInputGradient) return;
        int blocks = (batch + BlockSamples - 1) / BlockSamples, kernelSize = dw.Length;
        fixed (float* px = x, pg = g, pdx = dx, pw = Weight(0), pdw = Trainable ? _dwBlocks : null)
        {
            _job.Set(this, px, pg, pw, null, pdx, pdw, batch, backward: true, computeInputGradient);
            ParallelJobs.Run(_job, Math.Min(Threads, blocks));
        }
        // The blocks' kernel gradients, added in block order: the same sum for any thread count.
        for (int b = 0; b < blocks && Trainable; b++) Simd.Add(dw, _dwBlocks.AsSpan(b * kernelSize, kernelSize), dw);
    }

    // Forward: parts split the samples. Backward: parts split fixed blocks of BlockSamples samples;
    // each block's kernel gradient goes to its own slot of _dwBlocks (summed in block order after),
    // its input gradient straight to dx.
    private sealed unsafe class Job : IParallelJob
    {
        private DepthwiseConv2D _layer = null!;
        private float* _x, _yOrDy, _w, _bias, _dx, _dw;
        private int _batch;
        private bool _backward, _inputGradient;

        public void Set(DepthwiseConv2D layer, float* x, float* yOrDy, float* w, float* bias, float* dx, float* dw, int batch, bool backward, bool computeInputGradient)
        {
            _layer = layer;
            _x = x; _yOrDy = yOrDy; _w = w; _bias = bias; _dx = dx; _dw = dw;
            _batch = batch; _backward = backward; _inputGradient = computeInputGradient;
        }

        public void RunPart(int part, int parts)
        {
            ref readonly ConvGeometry g = ref _layer._g;
            long inSize = g.InputSize, outSize = (long)g.OutputPixels * g.Channels;
            int s0 = ParallelJobs.Start(_batch, part, parts), s1 = ParallelJobs.Start(_batch, part + 1, parts);
            if (!_backward)
            {
                for (int s = s0; s < s1; s++) DepthwiseKernels.Forward(_x + s * inSize, _w, _bias, _yOrDy + s * outSize, in g);
                return;
            }
            int blocks = (_batch + BlockSamples - 1) / BlockSamples;
            int b0 = ParallelJobs.Start(blocks, part, parts), b1 = ParallelJobs.Start(blocks, part + 1, parts);
            int kernelSize = g.KernelHeight * g.KernelWidth * g.Channels;
            for (int b = b0; b < b1; b++)
            {
                int first = b * BlockSamples, count = Math.Min(BlockSamples, _batch - first);
                // The input gradient adds into dx: each sample's part is cleared here, on the thread that fills it.
                if (_inputGradient)
                    for (int s = first; s < first + count; s++)
                    {
                        new Span<float>(_dx + s * inSize, (int)inSize).Clear();
                        DepthwiseKernels.InputGradient(_yOrDy + s * outSize, _w, _dx + s * inSize, in g);
                    }
                if (_dw == null) continue;
                float* slot = _dw + (long)b * kernelSize;
                new Span<float>(slot, kernelSize).Clear();
                DepthwiseKernels.KernelGradient(_x + first * inSize, _yOrDy + first * outSize, count, slot, in g, 0, g.Channels);
            }
        }
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>
    {
        ["kernel_size"] = new[] { KernelSize, KernelSize },
        ["strides"] = new[] { Stride, Stride },
        ["padding"] = WindowShapes.PaddingName(Padding, Pad, Pad),
        ["use_bias"] = UseBias,
        ["activation"] = ActivationNames.ToName(Activation),
    };
}
