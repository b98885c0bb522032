using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Distributed.Engine.Kernels;

/// <summary>
/// The transposing half of the packing: a strided operand (rows of A when A is not transposed,
/// rows of Bᵀ when B is) is turned into a sliver whose steps p each hold <c>width</c> consecutive floats.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Floats a packing buffer needs beyond its nominal size: the 8×8 transposes below may write up
    /// to 8 floats past the end of a sliver (the start of the next one, or this slack after the last).
    /// </summary>
    public const int Slack = 16;

    /// <summary>
    /// <c>dst[p*width + r] = src[r*ld + p]</c> for r &lt; <paramref name="rows"/>, p &lt; <paramref name="kc"/>,
    /// and 0 for rows ≤ r &lt; width. May also write up to 8 floats past the sliver's end
    /// (<c>dst + kc*width</c>), which the caller must either own or overwrite afterwards.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransposeInto(float* src, nint ld, float* dst, int width, int rows, int kc)
    {
        int p = 0;
        if (Avx.IsSupported && width >= 6)
        {
            // 8 steps × 8 rows at a time. A group that ends past `width` (the 6-wide AVX2 A sliver)
            // spills 2 floats into the start of the next step. That step is always written later —
            // by a lower group (groups go high to low), the block's next store, or the next block
            // (steps go low to high) — or is the next sliver / the buffer's Slack.
            int topGroup = (width - 1) / 8 * 8;
            for (; p + 8 <= kc; p += 8)
            {
                for (int r0 = topGroup; r0 >= 0; r0 -= 8)
                {
                    Transpose8x8(src + r0 * ld + p, ld, rows - r0, dst + (nint)p * width + r0, width);
                }
            }
        }
        // Remaining steps one float at a time, four source rows per pass.
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            float* s0 = src + r * ld, s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
            float* d = dst + (nint)p * width + r;
            for (int q = p; q < kc; q++, d += width)
            {
                d[0] = s0[q]; d[1] = s1[q]; d[2] = s2[q]; d[3] = s3[q];
            }
        }
        for (; r < rows; r++)
        {
            float* s = src + r * ld;
            float* d = dst + (nint)p * width + r;
            for (int q = p; q < kc; q++, d += width) *d = s[q];
        }
        for (; r < width; r++)
        {
            float* d = dst + (nint)p * width + r;
            for (int q = p; q < kc; q++, d += width) *d = 0f;
        }
    }

    // Transposes 8 steps of `rows` (clamped to 0..8; missing rows read as zero) source rows into 8
    // destination steps of 8 floats, stored in increasing step order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, nint ld, int rows, float* dst, nint width)
    {
        Vector256<float> r0 = Row(src, ld, 0, rows), r1 = Row(src, ld, 1, rows);
        Vector256<float> r2 = Row(src, ld, 2, rows), r3 = Row(src, ld, 3, rows);
        Vector256<float> r4 = Row(src, ld, 4, rows), r5 = Row(src, ld, 5, rows);
        Vector256<float> r6 = Row(src, ld, 6, rows), r7 = Row(src, ld, 7, rows);

        // Interleave pairs: t0 = a0 b0 a1 b1 | a4 b4 a5 b5, t1 = a2 b2 a3 b3 | a6 b6 a7 b7, ...
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);

        // Quads: s0 = a0 b0 c0 d0 | a4 b4 c4 d4, s1 = a1 b1 c1 d1 | a5 ..., s2 = a2 .. | a6 .., s3 = a3 .. | a7 ..
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);

        // Join the 128-bit halves: step q = column q of the 8×8 block.
        Vector256.Store(Avx.Permute2x128(s0, s4, 0x20), dst);
        Vector256.Store(Avx.Permute2x128(s1, s5, 0x20), dst + width);
        Vector256.Store(Avx.Permute2x128(s2, s6, 0x20), dst + 2 * width);
        Vector256.Store(Avx.Permute2x128(s3, s7, 0x20), dst + 3 * width);
        Vector256.Store(Avx.Permute2x128(s0, s4, 0x31), dst + 4 * width);
        Vector256.Store(Avx.Permute2x128(s1, s5, 0x31), dst + 5 * width);
        Vector256.Store(Avx.Permute2x128(s2, s6, 0x31), dst + 6 * width);
        Vector256.Store(Avx.Permute2x128(s3, s7, 0x31), dst + 7 * width);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row(float* src, nint ld, int i, int rows) =>
        i < rows ? Vector256.Load(src + i * ld) : Vector256<float>.Zero;
}
