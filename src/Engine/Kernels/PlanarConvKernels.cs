using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Stride-1 convolution for layers with fewer than 8 filters and at most 4 input channels (e.g.
/// seed-simple's): vectorising over filters would leave most of each vector empty, so these loops
/// copy one sample into zero-padded channel planes (<see cref="PlanarLayout"/>) and vectorise along
/// output rows instead, 8 pixels per lane group. Data stays NHWC outside. Every output element is
/// still accumulated in one fixed order, so results do not depend on the thread count; the forward
/// pass keeps the direct kernel's order (bias, then taps (kh, kw), then channels), so its bits.
/// </summary>
internal static unsafe class PlanarConvKernels
{
    private const int Lanes = 8;

    /// <summary>Whether these kernels take the layer: stride 1, F &lt; 8, C ≤ 4, KW ≤ 5, not 1×1.</summary>
    public static bool Supports(in ConvGeometry g, int filters) =>
        g.StrideHeight == 1 && g.StrideWidth == 1 && filters < Lanes && g.Channels <= 4 && g.KernelWidth <= 5 && !g.IsPointwise;

    /// <summary>
    /// One sample: y <c>(OH, OW, F)</c> = bias (or 0) + the convolution of x <c>(H, W, C)</c> with kernel
    /// <c>(KH, KW, C, F)</c>. <paramref name="l"/> is the layout for (g, F); <paramref name="scratch"/> holds its
    /// <see cref="PlanarLayout.ScratchSize"/> floats, zeroed once when allocated and only ever written by these kernels.
    /// </summary>
    public static void Forward(float* x, float* w, float* bias, float* y, in ConvGeometry g, in PlanarLayout l, int f, float* scratch)
    {
        ToPlanes(x, scratch, in g, in l);
        switch (l.OutputVectors)
        {
            case 1: Forward<V1>(scratch, w, bias, y, in g, in l, f); break;
            case 2: Forward<V2>(scratch, w, bias, y, in g, in l, f); break;
            case 3: Forward<V3>(scratch, w, bias, y, in g, in l, f); break;
            default: Forward<V4>(scratch, w, bias, y, in g, in l, f); break;
        }
    }

    private static void Forward<TV>(float* xs, float* w, float* bias, float* y, in ConvGeometry g, in PlanarLayout l, int f)
        where TV : struct, IVectorCount
    {
        int c = g.Channels, kh = g.KernelHeight, kw = g.KernelWidth, seg = TV.V * Lanes, row = l.InputRow, plane = l.InputPlane;
        float* spill = stackalloc float[4 * Lanes];
        for (int oh = 0; oh < g.OutputHeight; oh++)
            for (int ow0 = 0; ow0 < g.OutputWidth; ow0 += seg)
            {
                int count = Math.Min(seg, g.OutputWidth - ow0);
                for (int fi = 0; fi < f; fi++)
                {
                    var a0 = bias != null ? Vector256.Create(bias[fi]) : default;
                    Vector256<float> a1 = a0, a2 = a0, a3 = a0;
                    float* wp = w + fi;
                    for (int i = 0; i < kh; i++)
                    {
                        float* xr = xs + (oh + i) * row + ow0;
                        for (int j = 0; j < kw; j++, xr++)
                            for (int ch = 0; ch < c; ch++, wp += f)
                            {
                                var wv = Vector256.Create(*wp);
                                float* xp = xr + ch * plane;
                                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(xp), wv, a0);
                                if (TV.V > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Load(xp + Lanes), wv, a1);
                                if (TV.V > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Load(xp + 2 * Lanes), wv, a2);
                                if (TV.V > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Load(xp + 3 * Lanes), wv, a3);
                            }
                    }
                    Scatter<TV>(a0, a1, a2, a3, y + (oh * g.OutputWidth + ow0) * f + fi, f, count, spill);
                }
            }
    }

    /// <summary>
    /// The backward pass over <paramref name="count"/> samples of dy <c>(OH, OW, F)</c>: when <paramref name="dk"/>
    /// is not null, dK <c>(KH, KW, C, F)</c> += Σ of x · dy, each element summed in eight lanes (samples, then
    /// rows, then columns in steps of 8) and the lanes added at the end; when <paramref name="dx"/> is not
    /// null, each sample's dx <c>(H, W, C)</c> (overwritten) = Σ over taps (kh, kw), then filters, of w · dy:
    /// the full correlation of dy, padded by KH − 1 rows and KW − 1 columns, with the flipped kernel. Each
    /// sample's dy is copied into padded planes once for both.
    /// </summary>
    public static void Backward(float* x, float* dy, int count, float* w, float* dk, float* dx, in ConvGeometry g, in PlanarLayout l, int f, float* scratch)
    {
        int c = g.Channels, taps = g.KernelHeight * g.KernelWidth;
        float* xs = scratch, gp = scratch + l.PaddedGradientOffset(c), acc = scratch + l.AccumulatorOffset(c);
        if (dk != null) new Span<float>(acc, l.Accumulators).Clear();
        long inSize = g.InputSize, outSize = (long)g.OutputPixels * f;
        for (int s = 0; s < count; s++)
        {
            GradientToPlanes(dy + s * outSize, gp, l.PaddedGradientPlane, l.PaddedGradientRow, g.KernelHeight - 1, g.KernelWidth - 1, in g, f);
            if (dk != null)
            {
                ToPlanes(x + s * inSize, xs, in g, in l);
                KernelGradientSample(xs, gp, acc, in g, in l, f);
            }
            if (dx != null) InputGradient(gp, w, dx + s * inSize, in g, in l, f);
        }
        if (dk == null) return;
        // Accumulators are ordered (filter, channel, kh, kw); the kernel (kh, kw, channel, filter).
        for (int fi = 0; fi < f; fi++)
            for (int ch = 0; ch < c; ch++)
                for (int t = 0; t < taps; t++)
                    dk[(t * c + ch) * f + fi] += Vector256.Sum(Vector256.Load(acc + ((fi * c + ch) * taps + t) * Lanes));
    }

    // One pass per (filter, channel, kernel row) over the sample's rows, the KW sums of that kernel row in
    // registers: each output-gradient vector meets the KW input vectors one column apart. gp holds the
    // padded gradient planes: output row oh, column ow at (oh + KH − 1, ow + KW − 1), zeros past OW.
    private static void KernelGradientSample(float* xs, float* gp, float* acc, in ConvGeometry g, in PlanarLayout l, int f)
    {
        int c = g.Channels, kh = g.KernelHeight, kw = g.KernelWidth, width = l.OutputRow;
        float* gs = gp + (kh - 1) * l.PaddedGradientRow + kw - 1;
        for (int fi = 0; fi < f; fi++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < kh; i++)
                {
                    float* av = acc + ((fi * c + ch) * kh + i) * kw * Lanes;
                    var a0 = Vector256.Load(av);
                    var a1 = kw > 1 ? Vector256.Load(av + Lanes) : default;
                    var a2 = kw > 2 ? Vector256.Load(av + 2 * Lanes) : default;
                    var a3 = kw > 3 ? Vector256.Load(av + 3 * Lanes) : default;
                    var a4 = kw > 4 ? Vector256.Load(av + 4 * Lanes) : default;
                    for (int oh = 0; oh < g.OutputHeight; oh++)
                    {
                        float* xr = xs + ch * l.InputPlane + (oh + i) * l.InputRow;
                        float* gr = gs + fi * l.PaddedGradientPlane + oh * l.PaddedGradientRow;
                        for (int v = 0; v < width; v += Lanes)
                        {
                            var gv = Vector256.Load(gr + v);
                            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(xr + v), gv, a0);
                            if (kw > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Load(xr + v + 1), gv, a1);
                            if (kw > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Load(xr + v + 2), gv, a2);
                            if (kw > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Load(xr + v + 3), gv, a3);
                            if (kw > 4) a4 = Vector256.FusedMultiplyAdd(Vector256.Load(xr + v + 4), gv, a4);
                        }
                    }
                    a0.Store(av);
                    if (kw > 1) a1.Store(av + Lanes);
                    if (kw > 2) a2.Store(av + 2 * Lanes);
                    if (kw > 3) a3.Store(av + 3 * Lanes);
                    if (kw > 4) a4.Store(av + 4 * Lanes);
                }
    }

    private static void InputGradient(float* gp, float* w, float* dx, in ConvGeometry g, in PlanarLayout l, int f)
    {
        switch (l.InputGradientVectors)
        {
            case 1: InputGradient<V1>(gp, w, dx, in g, in l, f); break;
            case 2: InputGradient<V2>(gp, w, dx, in g, in l, f); break;
            case 3: InputGradient<V3>(gp, w, dx, in g, in l, f); break;
            default: InputGradient<V4>(gp, w, dx, in g, in l, f); break;
        }
    }

    private static void InputGradient<TV>(float* gp, float* w, float* dx, in ConvGeometry g, in PlanarLayout l, int f)
        where TV : struct, IVectorCount
    {
        int c = g.Channels, kh = g.KernelHeight, kw = g.KernelWidth, seg = TV.V * Lanes, row = l.PaddedGradientRow, plane = l.PaddedGradientPlane;
        float* spill = stackalloc float[4 * Lanes];
        for (int ih = 0; ih < g.InputHeight; ih++)
            for (int iw0 = 0; iw0 < g.InputWidth; iw0 += seg)
            {
                int count = Math.Min(seg, g.InputWidth - iw0);
                for (int ch = 0; ch < c; ch++)
                {
                    Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    for (int i = 0; i < kh; i++)
                    {
                        // Output row ih + pad − i, column iw0 + pad − j: offsets of KH − 1 and KW − 1 in the padded planes.
                        float* gr = gp + (ih + g.PadTop - i + kh - 1) * row + iw0 + g.PadLeft + kw - 1;
                        for (int j = 0; j < kw; j++)
                        {
                            float* wp = w + ((i * kw + j) * c + ch) * f;
                            float* gj = gr - j;
                            for (int fi = 0; fi < f; fi++, gj += plane)
                            {
                                var wv = Vector256.Create(wp[fi]);
                                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(gj), wv, a0);
                                if (TV.V > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Load(gj + Lanes), wv, a1);
                                if (TV.V > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Load(gj + 2 * Lanes), wv, a2);
                                if (TV.V > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Load(gj + 3 * Lanes), wv, a3);
                            }
                        }
                    }
                    Scatter<TV>(a0, a1, a2, a3, dx + (ih * g.InputWidth + iw0) * c + ch, c, count, spill);
                }
            }
    }

    // The first `count` lanes of a row segment back into an interleaved (NHWC) tensor, `stride` floats apart.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scatter<TV>(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3,
        float* dst, int stride, int count, float* spill) where TV : struct, IVectorCount
    {
        a0.Store(spill);
        if (TV.V > 1) a1.Store(spill + Lanes);
        if (TV.V > 2) a2.Store(spill + 2 * Lanes);
        if (TV.V > 3) a3.Store(spill + 3 * Lanes);
        for (int p = 0; p < count; p++) dst[p * stride] = spill[p];
    }

    // x (H, W, C) into C planes at (row + pad top, column + pad left). Only those positions are ever
    // written, so the padding stays zero from the scratch's allocation on.
    private static void ToPlanes(float* x, float* planes, in ConvGeometry g, in PlanarLayout l)
    {
        int c = g.Channels, width = g.InputWidth;
        for (int ih = 0; ih < g.InputHeight; ih++)
            Deinterleave(x + ih * width * c, planes + (ih + g.PadTop) * l.InputRow + g.PadLeft, l.InputPlane, width, c);
    }

    // dy (OH, OW, F) into F planes of rows of `row` floats at (oh + top, ow + left); like ToPlanes, the rest stays zero.
    private static void GradientToPlanes(float* dy, float* planes, int plane, int row, int top, int left, in ConvGeometry g, int f)
    {
        for (int oh = 0; oh < g.OutputHeight; oh++)
            Deinterleave(dy + oh * g.OutputWidth * f, planes + (oh + top) * row + left, plane, g.OutputWidth, f);
    }

    // n pixels of k ≤ 8 interleaved channels into k rows `plane` floats apart: one pass over the source.
    private static void Deinterleave(float* src, float* dst, int plane, int n, int k)
    {
        if (k == 1)
        {
            new ReadOnlySpan<float>(src, n).CopyTo(new Span<float>(dst, n));
            return;
        }
        float* d1 = dst + plane, d2 = d1 + plane, d3 = d2 + plane;
        for (int i = 0; i < n; i++, src += k)
        {
            dst[i] = src[0];
            d1[i] = src[1];
            if (k > 2) d2[i] = src[2];
            if (k > 3) d3[i] = src[3];
            for (int j = 4; j < k; j++) dst[j * plane + i] = src[j];
        }
    }
}
