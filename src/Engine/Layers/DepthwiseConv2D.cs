using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Depthwise 2-D convolution with depth multiplier 1 (Keras <c>DepthwiseConv2D</c>):
/// x <c>(N, H, W, C)</c>, kernel <c>(KH, KW, C)</c>, optional bias <c>(C)</c>, y <c>(N, OH, OW, C)</c>.
/// Each channel is filtered on its own; in NHWC the inner loop runs across channels, which
/// vectorises. Forward keeps nothing but its output.
/// </summary>
public sealed class DepthwiseConv2D : Layer
{
    private ConvGeometry _g;
    private float[] _dyScratch = [];

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

    internal override void Allocate(int maxBatch) =>
        _dyScratch = Activation != Activation.None ? new float[maxBatch * OutputShape.Size] : [];

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int c = _g.Channels, inSize = InputShape.Size, outSize = OutputShape.Size;
        ReadOnlySpan<float> w = Weight(0);
        for (int s = 0; s < batch; s++)
        {
            var xs = x.Slice(s * inSize, inSize);
            var ys = y.Slice(s * outSize, outSize);
            for (int oh = 0; oh < _g.OutputHeight; oh++)
            {
                for (int ow = 0; ow < _g.OutputWidth; ow++)
                {
                    var acc = ys.Slice((oh * _g.OutputWidth + ow) * c, c);
                    if (UseBias) Weight(1).CopyTo(acc); else acc.Clear();
                    for (int kh = 0; kh < KernelSize; kh++)
                    {
                        int ih = oh * Stride - _g.PadTop + kh;
                        if ((uint)ih >= (uint)_g.InputHeight) continue;
                        for (int kw = 0; kw < KernelSize; kw++)
                        {
                            int iw = ow * Stride - _g.PadLeft + kw;
                            if ((uint)iw >= (uint)_g.InputWidth) continue;
                            Simd.MultiplyAddInPlace(xs.Slice((ih * _g.InputWidth + iw) * c, c), w.Slice((kh * KernelSize + kw) * c, c), acc);
                        }
                    }
                }
            }
        }
        Simd.Activate(y.Slice(0, batch * outSize), Activation);
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        int c = _g.Channels, inSize = InputShape.Size, outSize = OutputShape.Size;
        ReadOnlySpan<float> g = dy.Slice(0, batch * outSize);
        if (Activation != Activation.None)
        {
            Simd.ActivationGradient(y.Slice(0, batch * outSize), g, _dyScratch, Simd.CapOf(Activation));
            g = _dyScratch.AsSpan(0, batch * outSize);
        }
        ReadOnlySpan<float> w = Weight(0);
        Span<float> dw = Trainable ? Gradient(0) : default;
        if (Trainable)
        {
            dw.Clear();
            if (UseBias) Simd.SumRows(g, batch * _g.OutputPixels, Gradient(1));
        }
        if (computeInputGradient) dx.Slice(0, batch * inSize).Clear();
        for (int s = 0; s < batch; s++)
        {
            var xs = x.Slice(s * inSize, inSize);
            var dxs = computeInputGradient ? dx.Slice(s * inSize, inSize) : default;
            var gs = g.Slice(s * outSize, outSize);
            for (int oh = 0; oh < _g.OutputHeight; oh++)
            {
                for (int ow = 0; ow < _g.OutputWidth; ow++)
                {
                    var go = gs.Slice((oh * _g.OutputWidth + ow) * c, c);
                    for (int kh = 0; kh < KernelSize; kh++)
                    {
                        int ih = oh * Stride - _g.PadTop + kh;
                        if ((uint)ih >= (uint)_g.InputHeight) continue;
                        for (int kw = 0; kw < KernelSize; kw++)
                        {
                            int iw = ow * Stride - _g.PadLeft + kw;
                            if ((uint)iw >= (uint)_g.InputWidth) continue;
                            int xi = (ih * _g.InputWidth + iw) * c, wi = (kh * KernelSize + kw) * c;
                            if (Trainable) Simd.MultiplyAddInPlace(xs.Slice(xi, c), go, dw.Slice(wi, c));
                            if (computeInputGradient) Simd.MultiplyAddInPlace(w.Slice(wi, c), go, dxs.Slice(xi, c));
                        }
                    }
                }
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
