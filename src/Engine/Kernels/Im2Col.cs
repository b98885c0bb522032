namespace Distributed.Engine.Kernels;

/// <summary>
/// Unfolds NHWC samples into patch rows and folds patch gradients back. A row is one output
/// pixel; its columns are ordered (kh, kw, c), so each kernel tap copies C contiguous floats.
/// </summary>
public static class Im2Col
{
    /// <summary>
    /// x: <c>(n, H, W, C)</c> → cols: <c>(n · OH · OW, KH · KW · C)</c>; taps in the padding are zero.
    /// </summary>
    public static void Unfold(ReadOnlySpan<float> x, int n, in ConvGeometry g, Span<float> cols)
    {
        int c = g.Channels, k = g.PatchSize;
        int row = 0;
        for (int s = 0; s < n; s++)
        {
            var sample = x.Slice(s * g.InputSize, g.InputSize);
            for (int oh = 0; oh < g.OutputHeight; oh++)
            {
                for (int ow = 0; ow < g.OutputWidth; ow++, row++)
                {
                    var dst = cols.Slice(row * k, k);
                    int tap = 0;
                    for (int kh = 0; kh < g.KernelHeight; kh++)
                    {
                        int ih = oh * g.StrideHeight - g.PadTop + kh;
                        if ((uint)ih >= (uint)g.InputHeight)
                        {
                            dst.Slice(tap, g.KernelWidth * c).Clear();
                            tap += g.KernelWidth * c;
                            continue;
                        }
                        for (int kw = 0; kw < g.KernelWidth; kw++, tap += c)
                        {
                            int iw = ow * g.StrideWidth - g.PadLeft + kw;
                            if ((uint)iw >= (uint)g.InputWidth) dst.Slice(tap, c).Clear();
                            else sample.Slice((ih * g.InputWidth + iw) * c, c).CopyTo(dst.Slice(tap, c));
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Unfold"/>: dx <c>(n, H, W, C)</c> is overwritten with the sum of
    /// every patch-row gradient that reads each input pixel.
    /// </summary>
    public static void Fold(ReadOnlySpan<float> cols, int n, in ConvGeometry g, Span<float> dx)
    {
        int c = g.Channels, k = g.PatchSize;
        dx.Slice(0, n * g.InputSize).Clear();
        int row = 0;
        for (int s = 0; s < n; s++)
        {
            var sample = dx.Slice(s * g.InputSize, g.InputSize);
            for (int oh = 0; oh < g.OutputHeight; oh++)
            {
                for (int ow = 0; ow < g.OutputWidth; ow++, row++)
                {
                    var src = cols.Slice(row * k, k);
                    int tap = 0;
                    for (int kh = 0; kh < g.KernelHeight; kh++)
                    {
                        int ih = oh * g.StrideHeight - g.PadTop + kh;
                        if ((uint)ih >= (uint)g.InputHeight) { tap += g.KernelWidth * c; continue; }
                        for (int kw = 0; kw < g.KernelWidth; kw++, tap += c)
                        {
                            int iw = ow * g.StrideWidth - g.PadLeft + kw;
                            if ((uint)iw >= (uint)g.InputWidth) continue;
                            var d = sample.Slice((ih * g.InputWidth + iw) * c, c);
                            Simd.Add(d, src.Slice(tap, c), d);
                        }
                    }
                }
            }
        }
    }
}
