using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) on NHWC data with C and F
/// multiples of 8: each 4×4 input tile (overlapping by 2) and each kernel are transformed, the 16
/// transformed positions become 16 independent products (tiles × C)·(C × F), and each 2×2 output tile
/// is transformed back: 16 multiply-adds per output tile and channel pair instead of 36. Used for a
/// convolution's forward pass and, with the kernel flipped and transposed, its input gradient (the full
/// correlation of dy). Tiles go in fixed blocks and every sum has a fixed order, so a chunk's result
/// does not depend on which thread computes it.
/// </summary>
internal static unsafe class WinogradKernels
{
    private const int Lanes = 8;
    private const int Positions = 16;

    /// <summary>Whether the transform takes the layer: 3×3, stride 1, C and F multiples of 8.</summary>
    public static bool Supports(in ConvGeometry g, int filters) =>
        g.KernelHeight == 3 && g.KernelWidth == 3 && g.StrideHeight == 1 && g.StrideWidth == 1
        && g.Channels % Lanes == 0 && filters % Lanes == 0 && g.Channels > 0 && filters > 0;

    /// <summary>Tiles per block: the block's transformed input and products stay within about 768 KB.</summary>
    public static int BlockTiles(int channels, int filters) => Math.Clamp(12288 / (channels + filters), 8, 512);

    /// <summary>Floats of scratch one thread needs for <see cref="Forward"/> and <see cref="KernelGradient"/>.</summary>
    public static int ScratchSize(int channels, int filters) => Positions * (BlockTiles(channels, filters) * (channels + filters) + channels * filters);

    /// <summary>Floats of a transformed kernel: <c>(16, C, F)</c>.</summary>
    public static int TransformedKernelSize(int channels, int filters) => Positions * channels * filters;

    /// <summary>
    /// u <c>(16, C, F)</c> = G · w · Gᵀ per (channel, filter) of the kernel w <c>(3, 3, C, F)</c>. With
    /// <paramref name="flipTranspose"/>, of the kernel <c>(3, 3, F, C)</c> that w[2 − kh, 2 − kw, c, f]
    /// is at (kh, kw, f, c): the input gradient's kernel, so u is <c>(16, F, C)</c>.
    /// </summary>
    public static void TransformKernel(float* w, int c, int f, float* u, bool flipTranspose)
    {
        int rows = flipTranspose ? f : c, cols = flipTranspose ? c : f;
        float* g = stackalloc float[9];
        float* t = stackalloc float[12];
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++)
            {
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++)
                        g[kh * 3 + kw] = flipTranspose ? w[((2 - kh) * 3 + 2 - kw) * c * f + q * f + r] : w[(kh * 3 + kw) * c * f + r * f + q];
                // G g: rows g0, (g0 + g1 + g2) / 2, (g0 − g1 + g2) / 2, g2 (each of 3 columns); then the same on columns.
                for (int j = 0; j < 3; j++)
                {
                    float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
                    t[j] = g0;
                    t[3 + j] = 0.5f * (g0 + g1 + g2);
                    t[6 + j] = 0.5f * (g0 - g1 + g2);
                    t[9 + j] = g2;
                }
                for (int i = 0; i < 4; i++)
                {
                    float t0 = t[i * 3], t1 = t[i * 3 + 1], t2 = t[i * 3 + 2];
                    float* dst = u + (long)(i * 4) * rows * cols + r * cols + q;
                    long step = (long)rows * cols;
                    dst[0] = t0;
                    dst[step] = 0.5f * (t0 + t1 + t2);
                    dst[2 * step] = 0.5f * (t0 - t1 + t2);
                    dst[3 * step] = t2;
                }
            }
    }

    /// <summary>
    /// y <c>(n, OH, OW, F)</c> = the convolution of x <c>(n, H, W, C)</c> (geometry <paramref name="g"/>, zero
    /// padding) with the kernel whose transform is u <c>(16, C, F)</c>; no bias.
    /// </summary>
    public static void Forward(float* x, int n, in ConvGeometry g, float* u, int f, float* y, float* scratch)
    {
        int c = g.Channels, block = BlockTiles(c, f);
        int tilesHigh = (g.OutputHeight + 1) / 2, tilesWide = (g.OutputWidth + 1) / 2, perSample = tilesHigh * tilesWide;
        long tiles = (long)n * perSample;
        float* v = scratch, m = scratch + (long)Positions * block * c;
        for (long first = 0; first < tiles; first += block)
        {
            int count = (int)Math.Min(block, tiles - first);
            for (int t = 0; t < count; t++)
            {
                var (s, oh, ow) = TileAt(first + t, perSample, tilesWide);
                TransformInput(x + (long)s * g.InputSize, in g, oh - g.PadTop, ow - g.PadLeft, v + (long)t * Positions * c);
            }
            for (int p = 0; p < Positions; p++)
                Gemm.Multiply(false, false, count, f, c,
                    new ReadOnlySpan<float>(v + (long)p * c, Strided(count, c)), Positions * c,
                    new ReadOnlySpan<float>(u + (long)p * c * f, c * f), f,
                    new Span<float>(m + (long)p * f, Strided(count, f)), Positions * f, accumulate: false);
            for (int t = 0; t < count; t++)
            {
                var (s, oh, ow) = TileAt(first + t, perSample, tilesWide);
                TransformOutput(m + (long)t * Positions * f, y + (long)s * g.OutputPixels * f, in g, f, oh, ow);
            }
        }
    }

    /// <summary>
    /// dK <c>(3, 3, C, F)</c> (overwritten) = the kernel gradient over n samples of x <c>(n, H, W, C)</c> and
    /// dy <c>(n, OH, OW, F)</c>: per transformed position, Σ over tiles (blocks in order) of the input transform
    /// times the output gradient's transform A · dY · Aᵀ, then Gᵀ · dU · G back to the 3×3 kernel.
    /// </summary>
    public static void KernelGradient(float* x, float* dy, int n, in ConvGeometry g, int f, float* dk, float* scratch)
    {
        int c = g.Channels, block = BlockTiles(c, f);
        int tilesHigh = (g.OutputHeight + 1) / 2, tilesWide = (g.OutputWidth + 1) / 2, perSample = tilesHigh * tilesWide;
        long tiles = (long)n * perSample;
        float* v = scratch, dm = v + (long)Positions * block * c, du = dm + (long)Positions * block * f;
        for (long first = 0; first < tiles; first += block)
        {
            int count = (int)Math.Min(block, tiles - first);
            for (int t = 0; t < count; t++)
            {
                var (s, oh, ow) = TileAt(first + t, perSample, tilesWide);
                TransformInput(x + (long)s * g.InputSize, in g, oh - g.PadTop, ow - g.PadLeft, v + (long)t * Positions * c);
                TransformGradient(dy + (long)s * g.OutputPixels * f, in g, f, oh, ow, dm + (long)t * Positions * f);
            }
            for (int p = 0; p < Positions; p++)
                Gemm.Multiply(true, false, c, f, count,
                    new ReadOnlySpan<float>(v + (long)p * c, Strided(count, c)), Positions * c,
                    new ReadOnlySpan<float>(dm + (long)p * f, Strided(count, f)), Positions * f,
                    new Span<float>(du + (long)p * c * f, c * f), f, accumulate: first > 0);
        }
        if (tiles == 0) new Span<float>(du, Positions * c * f).Clear();
        TransformKernelGradient(du, c, f, dk);
    }

    // A · dY · Aᵀ for the 2×2 output-gradient tile at (oh, ow) (zero where the output ends), 8 filters at a time;
    // position p = 4i + j goes to m + p · F. A's rows: (1, 0), (1, 1), (1, −1), (0, −1).
    private static void TransformGradient(float* dy, in ConvGeometry g, int f, int oh, int ow, float* m)
    {
        long step = f;
        bool right = ow + 1 < g.OutputWidth, below = oh + 1 < g.OutputHeight;
        float* p0 = dy + ((long)oh * g.OutputWidth + ow) * f, p1 = p0 + (long)g.OutputWidth * f;
        for (int fi = 0; fi < f; fi += Lanes)
        {
            var y00 = Vector256.Load(p0 + fi);
            var y01 = right ? Vector256.Load(p0 + f + fi) : default;
            var y10 = below ? Vector256.Load(p1 + fi) : default;
            var y11 = right && below ? Vector256.Load(p1 + f + fi) : default;
            // A · dY: rows dY0, dY0 + dY1, dY0 − dY1, −dY1; then the same on the two columns of each row.
            float* o = m + fi;
            Expand(o, step, y00, y01);
            Expand(o + 4 * step, step, y00 + y10, y01 + y11);
            Expand(o + 8 * step, step, y00 - y10, y01 - y11);
            Expand(o + 12 * step, step, -y10, -y11);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Expand(float* o, long step, Vector256<float> a0, Vector256<float> a1)
    {
        a0.Store(o);
        (a0 + a1).Store(o + step);
        (a0 - a1).Store(o + 2 * step);
        (-a1).Store(o + 3 * step);
    }

    // dK (3, 3, C, F) = Gᵀ · dU · G per (channel, filter) of dU (16, C, F). Gᵀ's rows: (1, ½, ½, 0), (0, ½, −½, 0), (0, ½, ½, 1).
    private static void TransformKernelGradient(float* du, int c, int f, float* dk)
    {
        long step = (long)c * f;
        float* t = stackalloc float[12];
        for (long e = 0; e < step; e++)
        {
            for (int j = 0; j < 4; j++)
            {
                float u0 = du[j * step + e], u1 = du[(4 + j) * step + e], u2 = du[(8 + j) * step + e], u3 = du[(12 + j) * step + e];
                t[j] = u0 + 0.5f * (u1 + u2);
                t[4 + j] = 0.5f * (u1 - u2);
                t[8 + j] = 0.5f * (u1 + u2) + u3;
            }
            for (int i = 0; i < 3; i++)
            {
                float t0 = t[i * 4], t1 = t[i * 4 + 1], t2 = t[i * 4 + 2], t3 = t[i * 4 + 3];
                dk[(i * 3) * step + e] = t0 + 0.5f * (t1 + t2);
                dk[(i * 3 + 1) * step + e] = 0.5f * (t1 - t2);
                dk[(i * 3 + 2) * step + e] = 0.5f * (t1 + t2) + t3;
            }
        }
    }

    // Tile number `tile` of a chunk, tiles row-major within each sample: its sample and the output pixel at its top left.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Sample, int Row, int Column) TileAt(long tile, int perSample, int tilesWide)
    {
        int rem = (int)(tile % perSample);
        return ((int)(tile / perSample), 2 * (rem / tilesWide), 2 * (rem % tilesWide));
    }

    // A block's transforms are tile-major, (tiles, 16, width), so a tile's transform is written in one run;
    // position p's rows are then `width` floats from a tile's start and 16 · width apart.
    private static int Strided(int tiles, int width) => (tiles - 1) * Positions * width + width;

    // Bᵀ d B for the 4×4 tile with top-left input pixel (r0, c0) (zero outside the input), 8 channels at a
    // time; position p = 4i + j goes to v + p · C.
    private static void TransformInput(float* x, in ConvGeometry g, int r0, int c0, float* v)
    {
        int c = g.Channels;
        long step = c;
        bool inside = r0 >= 0 && c0 >= 0 && r0 + 4 <= g.InputHeight && c0 + 4 <= g.InputWidth;
        for (int ch = 0; ch < c; ch += Lanes)
        {
            // Bᵀ d, column by column.
            var (t00, t10, t20, t30) = Bt(Column(x, in g, r0, c0, ch, inside));
            var (t01, t11, t21, t31) = Bt(Column(x, in g, r0, c0 + 1, ch, inside));
            var (t02, t12, t22, t32) = Bt(Column(x, in g, r0, c0 + 2, ch, inside));
            var (t03, t13, t23, t33) = Bt(Column(x, in g, r0, c0 + 3, ch, inside));
            float* o = v + ch;
            // (Bᵀ d) B: the same on each row.
            Row(o, step, t00, t01, t02, t03);
            Row(o + 4 * step, step, t10, t11, t12, t13);
            Row(o + 8 * step, step, t20, t21, t22, t23);
            Row(o + 12 * step, step, t30, t31, t32, t33);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* o, long step, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        var (b0, b1, b2, b3) = Bt((a0, a1, a2, a3));
        b0.Store(o);
        b1.Store(o + step);
        b2.Store(o + 2 * step);
        b3.Store(o + 3 * step);
    }

    // Bᵀ applied to four values: a0 − a2, a1 + a2, a2 − a1, a1 − a3.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Bt(
        (Vector256<float> A0, Vector256<float> A1, Vector256<float> A2, Vector256<float> A3) a) =>
        (a.A0 - a.A2, a.A1 + a.A2, a.A2 - a.A1, a.A1 - a.A3);

    // Input column `col` of the tile's four rows, 8 channels from ch; zeros outside the input.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Column(float* x, in ConvGeometry g, int r0, int col, int ch, bool inside)
    {
        int c = g.Channels;
        if (inside)
        {
            float* p = x + ((long)r0 * g.InputWidth + col) * c + ch;
            long row = (long)g.InputWidth * c;
            return (Vector256.Load(p), Vector256.Load(p + row), Vector256.Load(p + 2 * row), Vector256.Load(p + 3 * row));
        }
        return (At(x, in g, r0, col, ch), At(x, in g, r0 + 1, col, ch), At(x, in g, r0 + 2, col, ch), At(x, in g, r0 + 3, col, ch));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> At(float* x, in ConvGeometry g, int r, int col, int ch) =>
        (uint)r < (uint)g.InputHeight && (uint)col < (uint)g.InputWidth ? Vector256.Load(x + ((long)r * g.InputWidth + col) * g.Channels + ch) : default;

    // Aᵀ m A for one tile's 16 products (position p at m + p · F), 8 filters at a time, into the output
    // pixels (oh, ow) .. (oh + 1, ow + 1) that exist.
    private static void TransformOutput(float* m, float* y, in ConvGeometry g, int f, int oh, int ow)
    {
        long step = f;
        bool right = ow + 1 < g.OutputWidth, below = oh + 1 < g.OutputHeight;
        for (int fi = 0; fi < f; fi += Lanes)
        {
            float* p = m + fi;
            // Aᵀ m: rows m0 + m1 + m2 and m1 − m2 − m3, column by column.
            Vector256<float> s00, s01, s02, s03, s10, s11, s12, s13;
            (s00, s10) = Combine(Vector256.Load(p), Vector256.Load(p + 4 * step), Vector256.Load(p + 8 * step), Vector256.Load(p + 12 * step));
            (s01, s11) = Combine(Vector256.Load(p + step), Vector256.Load(p + 5 * step), Vector256.Load(p + 9 * step), Vector256.Load(p + 13 * step));
            (s02, s12) = Combine(Vector256.Load(p + 2 * step), Vector256.Load(p + 6 * step), Vector256.Load(p + 10 * step), Vector256.Load(p + 14 * step));
            (s03, s13) = Combine(Vector256.Load(p + 3 * step), Vector256.Load(p + 7 * step), Vector256.Load(p + 11 * step), Vector256.Load(p + 15 * step));
            var (y00, y01) = Combine(s00, s01, s02, s03);
            var (y10, y11) = Combine(s10, s11, s12, s13);
            float* o = y + ((long)oh * g.OutputWidth + ow) * f + fi;
            y00.Store(o);
            if (right) y01.Store(o + f);
            if (!below) continue;
            o += (long)g.OutputWidth * f;
            y10.Store(o);
            if (right) y11.Store(o + f);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>) Combine(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3) =>
        (a0 + a1 + a2, a1 - a2 - a3);
}
