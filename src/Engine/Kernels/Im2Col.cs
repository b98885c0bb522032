using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
    /// One block of the patch matrix that <see cref="Unfold"/> would write, without the rest: rows
    /// [<paramref name="row0"/>, +<paramref name="rows"/>) (output pixels, counted across the samples at
    /// <paramref name="x"/>) and columns [<paramref name="col0"/>, +<paramref name="cols"/>) of (kh, kw, c), written
    /// to <paramref name="dst"/> with row stride <paramref name="ld"/>. The same values as the full matrix, so a
    /// product packed from these blocks equals one packed from the unfolded matrix bit for bit.
    /// </summary>
    internal static unsafe void FillBlock(float* x, in ConvGeometry g, int row0, int rows, int col0, int cols, float* dst, int ld)
    {
        int c = g.Channels, pixels = g.OutputPixels, end = col0 + cols;
        for (int r = 0; r < rows; r++)
        {
            int row = row0 + r, s = row / pixels, pixel = row - s * pixels, oh = pixel / g.OutputWidth, ow = pixel - oh * g.OutputWidth;
            float* sample = x + (long)s * g.InputSize;
            float* d = dst + (long)r * ld - col0;
            int q = col0;
            while (q < end)
            {
                int tap = q / c, channel = q - tap * c, run = Math.Min(c - channel, end - q);
                int kh = tap / g.KernelWidth, kw = tap - kh * g.KernelWidth;
                int ih = oh * g.StrideHeight - g.PadTop + kh, iw = ow * g.StrideWidth - g.PadLeft + kw;
                if ((uint)ih < (uint)g.InputHeight && (uint)iw < (uint)g.InputWidth)
                    Copy(sample + ((long)ih * g.InputWidth + iw) * c + channel, d + q, run);
                else new Span<float>(d + q, run).Clear();
                q += run;
            }
        }
    }

    // Runs are a tap's channels, a few dozen floats: inline vector moves beat a memmove call per run.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Copy(float* src, float* dst, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    // d += s elementwise: the same single rounding per element as TensorPrimitives.Add, without a call per tap.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddInto(float* d, float* s, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(d + i) + Vector256.Load(s + i), d + i);
        for (; i < n; i++) d[i] += s[i];
    }

    /// <summary>
    /// The adjoint of <see cref="Unfold"/>: dx <c>(n, H, W, C)</c> is overwritten with the sum of
    /// every patch-row gradient that reads each input pixel.
    /// </summary>
    public static unsafe void Fold(ReadOnlySpan<float> cols, int n, in ConvGeometry g, Span<float> dx)
    {
        int c = g.Channels, k = g.PatchSize;
        ArgumentOutOfRangeException.ThrowIfLessThan(cols.Length, n * g.OutputPixels * k, nameof(cols));
        ArgumentOutOfRangeException.ThrowIfLessThan(dx.Length, n * g.InputSize, nameof(dx));
        dx.Slice(0, n * g.InputSize).Clear();
        fixed (float* pcols = cols, pdx = dx)
        {
            float* src = pcols;
            for (int s = 0; s < n; s++)
            {
                float* sample = pdx + (long)s * g.InputSize;
                for (int oh = 0; oh < g.OutputHeight; oh++)
                {
                    for (int ow = 0; ow < g.OutputWidth; ow++, src += k)
                    {
                        int tap = 0;
                        for (int kh = 0; kh < g.KernelHeight; kh++)
                        {
                            int ih = oh * g.StrideHeight - g.PadTop + kh;
                            if ((uint)ih >= (uint)g.InputHeight) { tap += g.KernelWidth * c; continue; }
                            for (int kw = 0; kw < g.KernelWidth; kw++, tap += c)
                            {
                                int iw = ow * g.StrideWidth - g.PadLeft + kw;
                                if ((uint)iw >= (uint)g.InputWidth) continue;
                                AddInto(sample + ((long)ih * g.InputWidth + iw) * c, src + tap, c);
                            }
                        }
                    }
                }
            }
        }
    }
}
