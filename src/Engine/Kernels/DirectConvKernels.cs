using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Direct 2-D convolution on NHWC data for layers whose im2col matrix would be thin (few input
/// channels or few filters, e.g. the first layer of an image model): no patch matrix, the filter
/// dimension vectorised. Kernel <c>(KH, KW, C, F)</c>. Every output element is accumulated in a
/// fixed order (taps (kh, kw), then input channels) whatever the vector width, so a sample's result
/// does not depend on which thread computes it.
/// </summary>
internal static unsafe class DirectConvKernels
{
    private const int Lanes = 8;

    /// <summary>Filters rounded up to whole vectors: the row width of <see cref="PadKernel"/>'s layout.</summary>
    public static int PaddedFilters(int f) => (f + Lanes - 1) / Lanes * Lanes;

    /// <summary>Copies w <c>(KH·KW·C, F)</c> into rows of <see cref="PaddedFilters"/> floats, zero-filled past F.</summary>
    public static void PadKernel(float* w, int rows, int f, float* padded)
    {
        int fp = PaddedFilters(f);
        for (int r = 0; r < rows; r++)
        {
            new ReadOnlySpan<float>(w + (long)r * f, f).CopyTo(new Span<float>(padded + (long)r * fp, f));
            new Span<float>(padded + (long)r * fp + f, fp - f).Clear();
        }
    }

    /// <summary>
    /// One sample: y <c>(OH, OW, F)</c> = bias (or 0) + Σ over the window (taps in (kh, kw) order, then
    /// channels) of x · w, for F ≤ 32. <paramref name="wPadded"/> is the kernel laid out by
    /// <see cref="PadKernel"/>, <paramref name="biasPadded"/> the bias padded the same way (or null).
    /// A pixel's outputs stay in up to four vector registers across all its taps.
    /// </summary>
    public static void Forward(float* x, float* wPadded, float* biasPadded, float* y, in ConvGeometry g, int f)
    {
        switch (PaddedFilters(f) / Lanes)
        {
            case 1: Forward<V1>(x, wPadded, biasPadded, y, in g, f); break;
            case 2: Forward<V2>(x, wPadded, biasPadded, y, in g, f); break;
            case 3: Forward<V3>(x, wPadded, biasPadded, y, in g, f); break;
            case 4: Forward<V4>(x, wPadded, biasPadded, y, in g, f); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f, "the direct forward pass takes at most 32 filters");
        }
    }

    private static void Forward<TW>(float* x, float* w, float* bias, float* y, in ConvGeometry g, int f) where TW : struct, IVectorCount
    {
        int c = g.Channels, fp = TW.V * Lanes;
        float* spill = stackalloc float[4 * Lanes];
        for (int oh = 0; oh < g.OutputHeight; oh++)
        {
            var (ih0, kh0, kh1) = g.WindowRows(oh);
            int ow = 0;
            if (TW.V == 1)
            {
                // Up to 8 filters are one vector, so one pixel is a single chain of dependent FMAs: take four pixels
                // whose windows lie inside the input at once (four independent chains, each in the one-pixel order).
                for (; ow + 4 <= g.OutputWidth; ow += 4)
                {
                    var (iw0, kw0, kw1) = g.WindowColumns(ow);
                    var (_, kwLast0, kwLast1) = g.WindowColumns(ow + 3);
                    if (kw0 != 0 || kw1 != g.KernelWidth || kwLast0 != 0 || kwLast1 != g.KernelWidth) break;
                    nint step = (nint)g.StrideWidth * c;
                    Vector256<float> p0 = bias != null ? Vector256.Load(bias) : default, p1 = p0, p2 = p0, p3 = p0;
                    for (int kh = kh0; kh < kh1; kh++)
                        for (int kw = 0; kw < g.KernelWidth; kw++)
                        {
                            float* xp = x + ((ih0 + kh) * g.InputWidth + iw0 + kw) * c;
                            float* wp = w + (long)(kh * g.KernelWidth + kw) * c * fp;
                            for (int ch = 0; ch < c; ch++, wp += fp)
                            {
                                var wv = Vector256.Load(wp);
                                p0 = Vector256.FusedMultiplyAdd(Vector256.Create(xp[ch]), wv, p0);
                                p1 = Vector256.FusedMultiplyAdd(Vector256.Create(xp[step + ch]), wv, p1);
                                p2 = Vector256.FusedMultiplyAdd(Vector256.Create(xp[2 * step + ch]), wv, p2);
                                p3 = Vector256.FusedMultiplyAdd(Vector256.Create(xp[3 * step + ch]), wv, p3);
                            }
                        }
                    float* yo = y + (oh * g.OutputWidth + ow) * f;
                    StorePixel<TW>(yo, p0, default, default, default, f, spill);
                    StorePixel<TW>(yo + f, p1, default, default, default, f, spill);
                    StorePixel<TW>(yo + 2 * f, p2, default, default, default, f, spill);
                    StorePixel<TW>(yo + 3 * f, p3, default, default, default, f, spill);
                }
            }
            for (; ow < g.OutputWidth; ow++)
            {
                var (iw0, kw0, kw1) = g.WindowColumns(ow);
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                if (bias != null)
                {
                    a0 = Vector256.Load(bias);
                    if (TW.V > 1) a1 = Vector256.Load(bias + Lanes);
                    if (TW.V > 2) a2 = Vector256.Load(bias + 2 * Lanes);
                    if (TW.V > 3) a3 = Vector256.Load(bias + 3 * Lanes);
                }
                for (int kh = kh0; kh < kh1; kh++)
                    for (int kw = kw0; kw < kw1; kw++)
                    {
                        float* xp = x + ((ih0 + kh) * g.InputWidth + iw0 + kw) * c;
                        float* wp = w + (long)(kh * g.KernelWidth + kw) * c * fp;
                        for (int ch = 0; ch < c; ch++, wp += fp)
                        {
                            var xv = Vector256.Create(xp[ch]);
                            a0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(wp), a0);
                            if (TW.V > 1) a1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(wp + Lanes), a1);
                            if (TW.V > 2) a2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(wp + 2 * Lanes), a2);
                            if (TW.V > 3) a3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(wp + 3 * Lanes), a3);
                        }
                    }
                StorePixel<TW>(y + (oh * g.OutputWidth + ow) * f, a0, a1, a2, a3, f, spill);
            }
        }
    }

    private static void StorePixel<TW>(float* yo, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, int f, float* spill)
        where TW : struct, IVectorCount
    {
        float* dst = f == TW.V * Lanes ? yo : spill;
        a0.Store(dst);
        if (TW.V > 1) a1.Store(dst + Lanes);
        if (TW.V > 2) a2.Store(dst + 2 * Lanes);
        if (TW.V > 3) a3.Store(dst + 3 * Lanes);
        // A few floats: a loop, not a memmove call per pixel.
        if (dst == spill) for (int i = 0; i < f; i++) yo[i] = spill[i];
    }

    /// <summary>
    /// dK <c>(KH, KW, C, F)</c> += Σ over <paramref name="count"/> samples and their output pixels (in that
    /// order) of x · dy.
    /// </summary>
    public static void KernelGradient(float* x, float* dy, int count, float* dk, in ConvGeometry g, int f)
    {
        switch (f % Lanes == 0 ? f / Lanes : 0)
        {
            case 1: KernelGradientRows<V1>(x, dy, count, dk, in g); return;
            case 2: KernelGradientRows<V2>(x, dy, count, dk, in g); return;
            case 3: KernelGradientRows<V3>(x, dy, count, dk, in g); return;
            case 4: KernelGradientRows<V4>(x, dy, count, dk, in g); return;
        }
        if (f < Lanes && g.Channels <= 4)
        {
            KernelGradientNarrow(x, dy, count, dk, in g, f);
            return;
        }
        long inSize = g.InputSize, outSize = (long)g.OutputPixels * f;
        for (int s = 0; s < count; s++) ForEachTap<KernelUpdate>(x + s * inSize, dk, dy + s * outSize, in g, f);
    }

    // F a multiple of 8, at most 32: one kernel row (tap, channel) at a time, its F sums held in up to
    // four registers across every pixel of the block, instead of a load-add-store per pixel. Each element
    // still sums samples, then pixels, in order: the general loop's bits.
    private static void KernelGradientRows<TW>(float* x, float* dy, int count, float* dk, in ConvGeometry g) where TW : struct, IVectorCount
    {
        int c = g.Channels, f = TW.V * Lanes;
        long inSize = g.InputSize, outSize = (long)g.OutputPixels * f;
        for (int kh = 0; kh < g.KernelHeight; kh++)
            for (int kw = 0; kw < g.KernelWidth; kw++)
                for (int ch = 0; ch < c; ch++)
                {
                    float* row = dk + ((kh * g.KernelWidth + kw) * c + ch) * f;
                    var a0 = Vector256.Load(row);
                    var a1 = TW.V > 1 ? Vector256.Load(row + Lanes) : default;
                    var a2 = TW.V > 2 ? Vector256.Load(row + 2 * Lanes) : default;
                    var a3 = TW.V > 3 ? Vector256.Load(row + 3 * Lanes) : default;
                    for (int s = 0; s < count; s++)
                    {
                        float* xs = x + s * inSize + ch, gs = dy + s * outSize;
                        for (int oh = 0; oh < g.OutputHeight; oh++)
                        {
                            int ih = oh * g.StrideHeight - g.PadTop + kh;
                            if ((uint)ih >= (uint)g.InputHeight) continue;
                            for (int ow = 0; ow < g.OutputWidth; ow++)
                            {
                                int iw = ow * g.StrideWidth - g.PadLeft + kw;
                                if ((uint)iw >= (uint)g.InputWidth) continue;
                                var xv = Vector256.Create(xs[(ih * g.InputWidth + iw) * c]);
                                float* go = gs + (oh * g.OutputWidth + ow) * f;
                                a0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(go), a0);
                                if (TW.V > 1) a1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(go + Lanes), a1);
                                if (TW.V > 2) a2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(go + 2 * Lanes), a2);
                                if (TW.V > 3) a3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(go + 3 * Lanes), a3);
                            }
                        }
                    }
                    a0.Store(row);
                    if (TW.V > 1) a1.Store(row + Lanes);
                    if (TW.V > 2) a2.Store(row + 2 * Lanes);
                    if (TW.V > 3) a3.Store(row + 3 * Lanes);
                }
    }

    // Fewer than 8 filters and at most 4 input channels (seed-simple's layers): one tap at a time, the
    // F sums of each of its C kernel rows in a register (lanes past F collect the next pixel's dy and are
    // dropped) across every pixel of the block. Same per-element order, so the general loop's bits.
    // dy is read 8 floats at a time; a pixel within 8 floats of the block's end reads a copy instead
    // (see CopyTail), so nothing after the block is read.
    private static void KernelGradientNarrow(float* x, float* dy, int count, float* dk, in ConvGeometry g, int f)
    {
        int c = g.Channels;
        long inSize = g.InputSize, outSize = (long)g.OutputPixels * f;
        float* end = dy + count * outSize, tailStart = end - dy > Lanes ? end - Lanes : dy;
        float* tail = stackalloc float[2 * Lanes];
        CopyTail(tailStart, end, tail);
        float* spill = stackalloc float[Lanes];
        for (int kh = 0; kh < g.KernelHeight; kh++)
            for (int kw = 0; kw < g.KernelWidth; kw++)
            {
                float* rows = dk + (kh * g.KernelWidth + kw) * c * f;
                var a0 = Vector256<float>.Zero;
                var a1 = Vector256<float>.Zero;
                var a2 = Vector256<float>.Zero;
                var a3 = Vector256<float>.Zero;
                for (int s = 0; s < count; s++)
                {
                    float* xs = x + s * inSize, gs = dy + s * outSize;
                    for (int oh = 0; oh < g.OutputHeight; oh++)
                    {
                        int ih = oh * g.StrideHeight - g.PadTop + kh;
                        if ((uint)ih >= (uint)g.InputHeight) continue;
                        for (int ow = 0; ow < g.OutputWidth; ow++)
                        {
                            int iw = ow * g.StrideWidth - g.PadLeft + kw;
                            if ((uint)iw >= (uint)g.InputWidth) continue;
                            float* go = gs + (oh * g.OutputWidth + ow) * f;
                            var gv = Vector256.Load(go + Lanes <= end ? go : tail + (go - tailStart));
                            float* xp = xs + (ih * g.InputWidth + iw) * c;
                            a0 = Vector256.FusedMultiplyAdd(Vector256.Create(xp[0]), gv, a0);
                            if (c > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Create(xp[1]), gv, a1);
                            if (c > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Create(xp[2]), gv, a2);
                            if (c > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Create(xp[3]), gv, a3);
                        }
                    }
                }
                // The rows started at dk's values (zero in practice): add them like the general loop would have.
                AddRow(a0, rows, f, spill);
                if (c > 1) AddRow(a1, rows + f, f, spill);
                if (c > 2) AddRow(a2, rows + 2 * f, f, spill);
                if (c > 3) AddRow(a3, rows + 3 * f, f, spill);
            }
    }

    // The last (at most 8) floats before end, [start, end), copied to a zero-filled 16-float scratch: a
    // pixel near the end is loaded from there as a whole vector without reading past end. Done once,
    // outside the hot loops, which must stay free of calls (a call spills every vector register).
    private static void CopyTail(float* start, float* end, float* scratch)
    {
        new Span<float>(scratch, 2 * Lanes).Clear();
        new ReadOnlySpan<float>(start, (int)(end - start)).CopyTo(new Span<float>(scratch, 2 * Lanes));
    }

    private static void AddRow(Vector256<float> sum, float* row, int f, float* spill)
    {
        sum.Store(spill);
        for (int j = 0; j < f; j++) row[j] += spill[j];
    }

    /// <summary>One sample: dx <c>(H, W, C)</c> (overwritten) = Σ over output pixels and taps of w · dy, summed over filters.</summary>
    public static void InputGradient(float* dy, float* w, float* dx, in ConvGeometry g, int f)
    {
        if (f < Lanes && g.Channels <= 4 && g.PatchSize <= 256)
        {
            InputGradientNarrow(dy, w, dx, in g, f);
            return;
        }
        new Span<float>(dx, g.InputSize).Clear();
        ForEachTap<InputUpdate>(dx, w, dy, in g, f);
    }

    // For every output pixel of one sample and every tap of its window inside the input, in order:
    // T.Apply over the C channels at that tap (input points at the tap's input pixel, kernel at the
    // tap's C×F kernel rows, go at the pixel's F output gradients).
    private static void ForEachTap<T>(float* input, float* kernel, float* dy, in ConvGeometry g, int f) where T : struct, ITapUpdate
    {
        int c = g.Channels;
        for (int oh = 0; oh < g.OutputHeight; oh++)
        {
            var (ih0, kh0, kh1) = g.WindowRows(oh);
            for (int ow = 0; ow < g.OutputWidth; ow++)
            {
                var (iw0, kw0, kw1) = g.WindowColumns(ow);
                float* go = dy + (oh * g.OutputWidth + ow) * f;
                for (int kh = kh0; kh < kh1; kh++)
                    for (int kw = kw0; kw < kw1; kw++)
                        T.Apply(input + ((ih0 + kh) * g.InputWidth + iw0 + kw) * c, kernel + (kh * g.KernelWidth + kw) * c * f, go, c, f);
            }
        }
    }

    private interface ITapUpdate
    {
        static abstract void Apply(float* input, float* kernel, float* go, int c, int f);
    }

    // Kernel rows += x · dy: each channel's row of F gets x[ch] times the pixel's output gradients.
    private readonly struct KernelUpdate : ITapUpdate
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(float* input, float* kernel, float* go, int c, int f)
        {
            for (int ch = 0; ch < c; ch++) Axpy(input[ch], go, kernel + ch * f, f);
        }
    }

    // dx += Σ over filters of w · dy, per channel.
    private readonly struct InputUpdate : ITapUpdate
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(float* input, float* kernel, float* go, int c, int f)
        {
            for (int ch = 0; ch < c; ch++)
            {
                float* wr = kernel + ch * f;
                float acc = 0f;
                for (int j = 0; j < f; j++) acc = MathF.FusedMultiplyAdd(wr[j], go[j], acc);
                input[ch] += acc;
            }
        }
    }

    // Fewer than 8 filters and at most 4 channels: each input pixel gathers from the output pixels
    // whose windows cover it, a register per channel holding the F products per tap (kernel rows padded
    // to 8 with zeros, dy masked to its F lanes), summed across lanes at the end. The order is fixed per
    // element, so the result does not depend on the thread count.
    private static void InputGradientNarrow(float* dy, float* w, float* dx, in ConvGeometry g, int f)
    {
        int c = g.Channels, taps = g.KernelHeight * g.KernelWidth;
        float* padded = stackalloc float[taps * c * Lanes];
        for (int r = 0; r < taps * c; r++)
            for (int j = 0; j < Lanes; j++) padded[r * Lanes + j] = j < f ? w[r * f + j] : 0f;
        float* end = dy + g.OutputPixels * f, tailStart = end - dy > Lanes ? end - Lanes : dy;
        float* tail = stackalloc float[2 * Lanes];
        CopyTail(tailStart, end, tail);
        var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(f)).AsSingle();
        for (int ih = 0; ih < g.InputHeight; ih++)
            for (int iw = 0; iw < g.InputWidth; iw++)
            {
                var a0 = Vector256<float>.Zero;
                var a1 = Vector256<float>.Zero;
                var a2 = Vector256<float>.Zero;
                var a3 = Vector256<float>.Zero;
                for (int kh = 0; kh < g.KernelHeight; kh++)
                {
                    int th = ih + g.PadTop - kh;
                    if (th < 0 || th % g.StrideHeight != 0) continue;
                    int oh = th / g.StrideHeight;
                    if (oh >= g.OutputHeight) continue;
                    for (int kw = 0; kw < g.KernelWidth; kw++)
                    {
                        int tw = iw + g.PadLeft - kw;
                        if (tw < 0 || tw % g.StrideWidth != 0) continue;
                        int ow = tw / g.StrideWidth;
                        if (ow >= g.OutputWidth) continue;
                        float* go = dy + (oh * g.OutputWidth + ow) * f;
                        var gv = Vector256.Load(go + Lanes <= end ? go : tail + (go - tailStart)) & mask;
                        float* wp = padded + (kh * g.KernelWidth + kw) * c * Lanes;
                        a0 = Vector256.FusedMultiplyAdd(Vector256.Load(wp), gv, a0);
                        if (c > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Load(wp + Lanes), gv, a1);
                        if (c > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Load(wp + 2 * Lanes), gv, a2);
                        if (c > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Load(wp + 3 * Lanes), gv, a3);
                    }
                }
                float* xo = dx + (ih * g.InputWidth + iw) * c;
                xo[0] = Vector256.Sum(a0);
                if (c > 1) xo[1] = Vector256.Sum(a1);
                if (c > 2) xo[2] = Vector256.Sum(a2);
                if (c > 3) xo[3] = Vector256.Sum(a3);
            }
    }

    // acc[0..n) += a · x[0..n), fused, vectorised where it can be (same result on every path).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float a, float* x, float* acc, int n)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; j <= n - Lanes; j += Lanes)
                Vector256.FusedMultiplyAdd(va, Vector256.Load(x + j), Vector256.Load(acc + j)).Store(acc + j);
        }
        for (; j < n; j++) acc[j] = MathF.FusedMultiplyAdd(a, x[j], acc[j]);
    }
}
