using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Depthwise convolution loops on NHWC data (depth multiplier 1), vectorised across channels.
/// Each output (or kernel-gradient) element is accumulated with fused multiply-adds in the same
/// order whatever the vector width and whatever range of samples or channels a call covers, so
/// splitting a batch by samples (forward, input gradient) or by channels (kernel gradient) over
/// threads gives bitwise identical results.
/// </summary>
internal static unsafe class DepthwiseKernels
{
    private const int Lanes = 8;

    /// <summary>
    /// One sample: y <c>(OH, OW, C)</c> = Σ over the window of x <c>(H, W, C)</c> · w <c>(KH, KW, C)</c>,
    /// plus <paramref name="bias"/> <c>(C)</c> when not null; taps in (kh, kw) order.
    /// </summary>
    public static void Forward(float* x, float* w, float* bias, float* y, in ConvGeometry g)
    {
        int c = g.Channels;
        bool vector = Vector256.IsHardwareAccelerated;
        for (int oh = 0; oh < g.OutputHeight; oh++)
        {
            var (ih0, kh0, kh1) = g.WindowRows(oh);
            for (int ow = 0; ow < g.OutputWidth; ow++)
            {
                var (iw0, kw0, kw1) = g.WindowColumns(ow);
                float* yo = y + (oh * g.OutputWidth + ow) * c;
                int ch = 0;
                if (vector)
                {
                    for (; ch <= c - Lanes; ch += Lanes)
                    {
                        var acc = bias == null ? Vector256<float>.Zero : Vector256.Load(bias + ch);
                        for (int kh = kh0; kh < kh1; kh++)
                        {
                            float* xr = x + ((ih0 + kh) * g.InputWidth + iw0) * c + ch;
                            float* wr = w + kh * g.KernelWidth * c + ch;
                            for (int kw = kw0; kw < kw1; kw++)
                                acc = Vector256.FusedMultiplyAdd(Vector256.Load(xr + kw * c), Vector256.Load(wr + kw * c), acc);
                        }
                        acc.Store(yo + ch);
                    }
                }
                for (; ch < c; ch++)
                {
                    float acc = bias == null ? 0f : bias[ch];
                    for (int kh = kh0; kh < kh1; kh++)
                        for (int kw = kw0; kw < kw1; kw++)
                            acc = MathF.FusedMultiplyAdd(x[((ih0 + kh) * g.InputWidth + iw0 + kw) * c + ch], w[(kh * g.KernelWidth + kw) * c + ch], acc);
                    yo[ch] = acc;
                }
            }
        }
    }

    /// <summary>
    /// dw <c>(KH, KW, C)</c>, channels [<paramref name="c0"/>, <paramref name="c1"/>) only, += Σ over the
    /// <paramref name="batch"/> samples and output pixels (in that order) of x · dy.
    /// </summary>
    public static void KernelGradient(float* x, float* dy, int batch, float* dw, in ConvGeometry g, int c0, int c1)
    {
        long inSize = g.InputSize, outSize = (long)g.OutputPixels * g.Channels;
        for (int s = 0; s < batch; s++) ForEachTap<KernelUpdate>(x + s * inSize, dw, dy + s * outSize, in g, c0, c1);
    }

    /// <summary>One sample: dx <c>(H, W, C)</c> += Σ over the output pixels of dy · w, pixels and taps in order.</summary>
    public static void InputGradient(float* dy, float* w, float* dx, in ConvGeometry g) => ForEachTap<InputUpdate>(dx, w, dy, in g, 0, g.Channels);

    // For every output pixel of one sample and every tap of its window inside the input, in order:
    // T.Apply(input at the tap, kernel at the tap, dy at the pixel) over channels [c0, c1).
    private static void ForEachTap<T>(float* input, float* kernel, float* dy, in ConvGeometry g, int c0, int c1) where T : struct, ITapUpdate
    {
        int c = g.Channels;
        for (int oh = 0; oh < g.OutputHeight; oh++)
        {
            var (ih0, kh0, kh1) = g.WindowRows(oh);
            for (int ow = 0; ow < g.OutputWidth; ow++)
            {
                var (iw0, kw0, kw1) = g.WindowColumns(ow);
                float* go = dy + (oh * g.OutputWidth + ow) * c;
                for (int kh = kh0; kh < kh1; kh++)
                {
                    float* ir = input + ((ih0 + kh) * g.InputWidth + iw0) * c;
                    float* kr = kernel + kh * g.KernelWidth * c;
                    for (int kw = kw0; kw < kw1; kw++) T.Apply(ir + kw * c, kr + kw * c, go, c0, c1);
                }
            }
        }
    }

    private interface ITapUpdate
    {
        static abstract void Apply(float* input, float* kernel, float* go, int c0, int c1);
    }

    // kernel += input · dy (the kernel gradient; input is x).
    private readonly struct KernelUpdate : ITapUpdate
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(float* input, float* kernel, float* go, int c0, int c1)
        {
            int ch = c0;
            if (Vector256.IsHardwareAccelerated)
                for (; ch <= c1 - Lanes; ch += Lanes)
                    Vector256.FusedMultiplyAdd(Vector256.Load(input + ch), Vector256.Load(go + ch), Vector256.Load(kernel + ch)).Store(kernel + ch);
            for (; ch < c1; ch++) kernel[ch] = MathF.FusedMultiplyAdd(input[ch], go[ch], kernel[ch]);
        }
    }

    // input += kernel · dy (the input gradient; input is dx).
    private readonly struct InputUpdate : ITapUpdate
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(float* input, float* kernel, float* go, int c0, int c1)
        {
            int ch = c0;
            if (Vector256.IsHardwareAccelerated)
                for (; ch <= c1 - Lanes; ch += Lanes)
                    Vector256.FusedMultiplyAdd(Vector256.Load(kernel + ch), Vector256.Load(go + ch), Vector256.Load(input + ch)).Store(input + ch);
            for (; ch < c1; ch++) input[ch] = MathF.FusedMultiplyAdd(kernel[ch], go[ch], input[ch]);
        }
    }
}
