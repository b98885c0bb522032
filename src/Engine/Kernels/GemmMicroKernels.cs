using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Distributed.Engine.Kernels;

// The register-blocked micro-kernels of Gemm. Each computes one MR×NR tile of C from a packed
// MR-tall sliver of A (kc steps of MR consecutive floats) and a packed NR-wide sliver of B (kc
// steps of NR consecutive floats): acc = Σ_p a[p]ᵀ·b[p], then C = acc, or C = C + acc when `load`.
// The accumulators always start at zero and C is added once at the end, so a tile written through
// the edge buffer (see GemmDriver) is bitwise identical to one written directly.
//
// The hot loops make no calls: on Linux x64 no vector register is callee-saved, so a call would
// force every accumulator to be spilled. Parts of the 512/256 kernels are generated code (one line
// per row of the tile); keep the rows uniform when editing.

/// <summary>A micro-kernel and its tile shape; implemented by structs so the driver is specialised per kernel.</summary>
internal unsafe interface IGemmKernel
{
    /// <summary>Rows of the C tile (height of a packed A sliver).</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the C tile (width of a packed B sliver).</summary>
    static abstract int NR { get; }

    /// <summary>Copies NR floats from <paramref name="src"/> to <paramref name="dst"/> (B packing, no transpose).</summary>
    static abstract void CopyRow(float* src, float* dst);

    /// <summary>Copies MR floats from <paramref name="src"/> to <paramref name="dst"/> (A packing when A is stored transposed).</summary>
    static abstract void CopyColumn(float* src, float* dst);

    /// <summary>
    /// Computes the tile from <paramref name="kc"/> packed steps and writes its first <paramref name="rows"/>
    /// rows (all NR columns) to <paramref name="c"/> with row stride <paramref name="ldc"/>.
    /// </summary>
    static abstract void Run(int kc, float* a, float* b, float* c, nint ldc, int rows, bool load);
}

/// <summary>
/// Vector512 micro-kernel: an 8×32 tile of C held in 16 zmm accumulators (8 rows × 2 vectors of 16),
/// plus 2 registers for the row of B and one for the broadcast element of A. On Zen 4 this measured
/// as fast as or faster than 14×32 (28 accumulators), 12×32, 6×32 and 4×64 on every benchmarked shape:
/// 16 independent FMA chains already cover the FMA latency, and a short MR wastes less on the m edge
/// (m = 128 fills 16 slivers exactly, where 14 rows pad it to 140).
/// </summary>
internal readonly unsafe struct GemmKernel512 : IGemmKernel
{
    /// <inheritdoc/>
    public static int MR => 8;

    /// <inheritdoc/>
    public static int NR => 32;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyRow(float* src, float* dst)
    {
        Vector512.Store(Vector512.Load(src), dst);
        Vector512.Store(Vector512.Load(src + 16), dst + 16);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyColumn(float* src, float* dst)
    {
        Vector256.Store(Vector256.Load(src), dst);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, int rows, bool load)
    {
        if (Sse.IsSupported)
        {
            // Fetch this tile of C into L2 now; it is loaded only after the k loop, by which time it has arrived.
            for (int i = 0; i < rows; i++)
            {
                Sse.Prefetch1(c + i * ldc);
                Sse.Prefetch1(c + i * ldc + 16);
            }
        }
        Vector512<float> c0a = default, c0b = default;
        Vector512<float> c1a = default, c1b = default;
        Vector512<float> c2a = default, c2b = default;
        Vector512<float> c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default;
        Vector512<float> c5a = default, c5b = default;
        Vector512<float> c6a = default, c6b = default;
        Vector512<float> c7a = default, c7b = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), x;
            x = Vector512.Create(a[0]); c0a = Vector512.FusedMultiplyAdd(x, b0, c0a); c0b = Vector512.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a[1]); c1a = Vector512.FusedMultiplyAdd(x, b0, c1a); c1b = Vector512.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a[2]); c2a = Vector512.FusedMultiplyAdd(x, b0, c2a); c2b = Vector512.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a[3]); c3a = Vector512.FusedMultiplyAdd(x, b0, c3a); c3b = Vector512.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a[4]); c4a = Vector512.FusedMultiplyAdd(x, b0, c4a); c4b = Vector512.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a[5]); c5a = Vector512.FusedMultiplyAdd(x, b0, c5a); c5b = Vector512.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(a[6]); c6a = Vector512.FusedMultiplyAdd(x, b0, c6a); c6b = Vector512.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a[7]); c7a = Vector512.FusedMultiplyAdd(x, b0, c7a); c7b = Vector512.FusedMultiplyAdd(x, b1, c7b);
            a += 8;
            b += 32;
        }
        Store(c, c0a, c0b, load);
        if (rows == 1) return; Store(c + 1 * ldc, c1a, c1b, load);
        if (rows == 2) return; Store(c + 2 * ldc, c2a, c2b, load);
        if (rows == 3) return; Store(c + 3 * ldc, c3a, c3b, load);
        if (rows == 4) return; Store(c + 4 * ldc, c4a, c4b, load);
        if (rows == 5) return; Store(c + 5 * ldc, c5a, c5b, load);
        if (rows == 6) return; Store(c + 6 * ldc, c6a, c6b, load);
        if (rows == 7) return; Store(c + 7 * ldc, c7a, c7b, load);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> x0, Vector512<float> x1, bool load)
    {
        if (load)
        {
            x0 = Vector512.Load(c) + x0;
            x1 = Vector512.Load(c + 16) + x1;
        }
        Vector512.Store(x0, c);
        Vector512.Store(x1, c + 16);
    }
}

/// <summary>
/// Vector256 micro-kernel: a 6×16 tile of C held in 12 ymm accumulators (6 rows × 2 vectors of 8),
/// plus 2 registers for the row of B and one for the broadcast element of A: 15 of the 16 ymm registers.
/// </summary>
internal readonly unsafe struct GemmKernel256 : IGemmKernel
{
    /// <inheritdoc/>
    public static int MR => 6;

    /// <inheritdoc/>
    public static int NR => 16;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyRow(float* src, float* dst)
    {
        Vector256.Store(Vector256.Load(src), dst);
        Vector256.Store(Vector256.Load(src + 8), dst + 8);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyColumn(float* src, float* dst)
    {
        Vector128.Store(Vector128.Load(src), dst);
        *(ulong*)(dst + 4) = *(ulong*)(src + 4);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, int rows, bool load)
    {
        Vector256<float> c0a = default, c0b = default;
        Vector256<float> c1a = default, c1b = default;
        Vector256<float> c2a = default, c2b = default;
        Vector256<float> c3a = default, c3b = default;
        Vector256<float> c4a = default, c4b = default;
        Vector256<float> c5a = default, c5b = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), x;
            x = Vector256.Create(a[0]); c0a = Fma(x, b0, c0a); c0b = Fma(x, b1, c0b);
            x = Vector256.Create(a[1]); c1a = Fma(x, b0, c1a); c1b = Fma(x, b1, c1b);
            x = Vector256.Create(a[2]); c2a = Fma(x, b0, c2a); c2b = Fma(x, b1, c2b);
            x = Vector256.Create(a[3]); c3a = Fma(x, b0, c3a); c3b = Fma(x, b1, c3b);
            x = Vector256.Create(a[4]); c4a = Fma(x, b0, c4a); c4b = Fma(x, b1, c4b);
            x = Vector256.Create(a[5]); c5a = Fma(x, b0, c5a); c5b = Fma(x, b1, c5b);
            a += 6;
            b += 16;
        }
        Store(c, c0a, c0b, load);
        if (rows == 1) return; Store(c + 1 * ldc, c1a, c1b, load);
        if (rows == 2) return; Store(c + 2 * ldc, c2a, c2b, load);
        if (rows == 3) return; Store(c + 3 * ldc, c3a, c3b, load);
        if (rows == 4) return; Store(c + 4 * ldc, c4a, c4b, load);
        if (rows == 5) return; Store(c + 5 * ldc, c5a, c5b, load);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> x0, Vector256<float> x1, bool load)
    {
        if (load)
        {
            x0 = Vector256.Load(c) + x0;
            x1 = Vector256.Load(c + 8) + x1;
        }
        Vector256.Store(x0, c);
        Vector256.Store(x1, c + 8);
    }

    // x·b + acc, fused when the CPU has FMA3 (always true next to AVX2 in practice).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> x, Vector256<float> b, Vector256<float> acc) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? Vector256.FusedMultiplyAdd(x, b, acc) : x * b + acc;
}

/// <summary>
/// Portable fallback used when neither Vector512 nor Vector256 is accelerated: a 4×4 tile in 16
/// scalar locals, plain multiply-add (a software-emulated fused multiply-add would be far slower).
/// </summary>
internal readonly unsafe struct GemmKernelScalar : IGemmKernel
{
    /// <inheritdoc/>
    public static int MR => 4;

    /// <inheritdoc/>
    public static int NR => 4;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyRow(float* src, float* dst)
    {
        dst[0] = src[0]; dst[1] = src[1]; dst[2] = src[2]; dst[3] = src[3];
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyColumn(float* src, float* dst)
    {
        dst[0] = src[0]; dst[1] = src[1]; dst[2] = src[2]; dst[3] = src[3];
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, int rows, bool load)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], x;
            x = a[0]; c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
            x = a[1]; c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
            x = a[2]; c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
            x = a[3]; c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
            a += 4;
            b += 4;
        }
        Store(c, c00, c01, c02, c03, load);
        if (rows == 1) return; Store(c + ldc, c10, c11, c12, c13, load);
        if (rows == 2) return; Store(c + 2 * ldc, c20, c21, c22, c23, load);
        if (rows == 3) return; Store(c + 3 * ldc, c30, c31, c32, c33, load);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, float x0, float x1, float x2, float x3, bool load)
    {
        if (load)
        {
            x0 = c[0] + x0; x1 = c[1] + x1; x2 = c[2] + x2; x3 = c[3] + x3;
        }
        c[0] = x0; c[1] = x1; c[2] = x2; c[3] = x3;
    }
}
