using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Single-precision general matrix multiply on row-major data, GotoBLAS/BLIS style: op(B) is packed
/// into NR-wide column slivers and op(A) into MR-tall row slivers (transposes are handled by the
/// packing, never materialised), and a register-blocked micro-kernel computes each MR×NR tile of C.
/// The kernel is chosen once per process: AVX-512 (8×32 tile) when <see cref="Vector512"/> is
/// accelerated, AVX2/FMA (6×16) when <see cref="Vector256"/> is, portable scalar (4×4) otherwise.
/// Steady-state calls allocate nothing on the managed heap (packing buffers are per-thread native memory).
/// </summary>
/// <remarks>
/// The result does not depend on how m and n are split (across threads or cache blocks): every element
/// of C is accumulated over k in the same order, in KC-deep slices. C must not overlap
/// the inputs.
/// </remarks>
public static class Gemm
{
    // Below this many multiply-adds a product is run on the calling thread only: waking workers
    // (a few microseconds) would cost more than it saves.
    private const long MinParallelWork = 1L << 20;

    /// <summary>
    /// C[m×n] = op(A)[m×k] · op(B)[k×n], or C += op(A) · op(B) when <paramref name="accumulate"/> is true. Row-major.
    /// </summary>
    /// <param name="transA">false: A is stored m×k, element (i,p) at <c>a[i*lda+p]</c>; true: A is stored k×m, element (i,p) at <c>a[p*lda+i]</c>.</param>
    /// <param name="transB">false: B is stored k×n, element (p,j) at <c>b[p*ldb+j]</c>; true: B is stored n×k, element (p,j) at <c>b[j*ldb+p]</c>.</param>
    /// <param name="m">Rows of C and of op(A).</param>
    /// <param name="n">Columns of C and of op(B).</param>
    /// <param name="k">Columns of op(A) and rows of op(B); with k = 0, C is zeroed (or left as is when accumulating).</param>
    /// <param name="a">Storage of A.</param>
    /// <param name="lda">Row stride of A as stored (at least k, or m when <paramref name="transA"/>).</param>
    /// <param name="b">Storage of B.</param>
    /// <param name="ldb">Row stride of B as stored (at least n, or k when <paramref name="transB"/>).</param>
    /// <param name="c">Storage of C; must not overlap <paramref name="a"/> or <paramref name="b"/>.</param>
    /// <param name="ldc">Row stride of C (at least n).</param>
    /// <param name="accumulate">Add the product to C instead of overwriting it.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a stride is too small, or a span too short.</exception>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) Zero(c, m, n, ldc);
            return;
        }
        unsafe
        {
            fixed (float* pa = a, pb = b, pc = c)
            {
                var g = new GemmOperands(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
                RunSerial(in g, 0, m, 0, n);
            }
        }
    }

    /// <summary>
    /// As <see cref="Multiply(bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool)"/>,
    /// splitting the rows or the columns of C (never k) over up to <paramref name="threads"/> threads, the caller
    /// included. The result is bitwise identical for every thread count. Small products, and calls made while
    /// another threaded product is running, use the calling thread only.
    /// </summary>
    /// <param name="transA">false: A is stored m×k; true: A is stored k×m.</param>
    /// <param name="transB">false: B is stored k×n; true: B is stored n×k.</param>
    /// <param name="m">Rows of C and of op(A).</param>
    /// <param name="n">Columns of C and of op(B).</param>
    /// <param name="k">Columns of op(A) and rows of op(B).</param>
    /// <param name="a">Storage of A.</param>
    /// <param name="lda">Row stride of A as stored.</param>
    /// <param name="b">Storage of B.</param>
    /// <param name="ldb">Row stride of B as stored.</param>
    /// <param name="c">Storage of C; must not overlap <paramref name="a"/> or <paramref name="b"/>.</param>
    /// <param name="ldc">Row stride of C.</param>
    /// <param name="accumulate">Add the product to C instead of overwriting it.</param>
    /// <param name="threads">Maximum number of threads, at least 1.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a stride is too small, a span too short, or <paramref name="threads"/> &lt; 1.</exception>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) Zero(c, m, n, ldc);
            return;
        }
        unsafe
        {
            fixed (float* pa = a, pb = b, pc = c)
            {
                Run(new GemmOperands(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate), threads);
            }
        }
    }

    /// <summary>
    /// C = P · B (or Pᵀ · B with <paramref name="transA"/>) where P is the im2col patch matrix of the NHWC samples at
    /// <paramref name="x"/> (<see cref="Im2Col.Unfold"/>: one row per output pixel, columns (kh, kw, c)) without
    /// writing P out: each cache block of it is unfolded right before it is packed (implicit GEMM). Bitwise
    /// identical to unfolding P and calling <see cref="Multiply(bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool, int)"/>.
    /// </summary>
    /// <param name="transA">false: m = pixels, k = patch size; true: m = patch size, k = pixels.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C and of B.</param>
    /// <param name="k">Rows of B.</param>
    /// <param name="x">The samples, at least pixels / OutputPixels of them; the caller keeps them pinned.</param>
    /// <param name="geometry">The window geometry.</param>
    /// <param name="b">B stored k×n.</param>
    /// <param name="ldb">Row stride of B.</param>
    /// <param name="c">C stored m×n.</param>
    /// <param name="ldc">Row stride of C.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    /// <param name="threads">Maximum number of threads, at least 1.</param>
    internal static unsafe void MultiplyPatches(bool transA, int m, int n, int k, float* x, in ConvGeometry geometry,
        ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int pixels = transA ? k : m, patch = transA ? m : k;
        if (patch != geometry.PatchSize || pixels % Math.Max(geometry.OutputPixels, 1) != 0)
            throw new ArgumentException($"a {pixels}×{patch} patch matrix does not fit the geometry (patch {geometry.PatchSize}, {geometry.OutputPixels} pixels per sample)");
        CheckMatrix(k, n, b.Length, ldb, "b", nameof(ldb));
        CheckMatrix(m, n, c.Length, ldc, "c", nameof(ldc));
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) Zero(c, m, n, ldc);
            return;
        }
        fixed (float* pb = b, pc = c)
        {
            Run(new GemmOperands(transA, false, m, n, k, x, in geometry, pb, ldb, pc, ldc, accumulate), threads);
        }
    }

    // The whole product (k > 0) on up to `threads` threads; small products stay on the calling thread.
    private static void Run(in GemmOperands g, int threads)
    {
        if (threads == 1 || (long)g.M * g.N * g.K < MinParallelWork) RunSerial(in g, 0, g.M, 0, g.N);
        else GemmParallel.Run(in g, threads);
    }

    /// <summary>Tile height MR of the micro-kernel in use.</summary>
    internal static int TileRows =>
        Vector512.IsHardwareAccelerated ? GemmKernel512.MR :
        Vector256.IsHardwareAccelerated ? GemmKernel256.MR : GemmKernelScalar.MR;

    /// <summary>Tile width NR of the micro-kernel in use.</summary>
    internal static int TileColumns =>
        Vector512.IsHardwareAccelerated ? GemmKernel512.NR :
        Vector256.IsHardwareAccelerated ? GemmKernel256.NR : GemmKernelScalar.NR;

    /// <summary>Computes the block C[m0:m1, n0:n1] on the calling thread (k &gt; 0).</summary>
    internal static void RunSerial(in GemmOperands g, int m0, int m1, int n0, int n1)
    {
        if (Vector512.IsHardwareAccelerated) GemmDriver<GemmKernel512>.Run(in g, m0, m1, n0, n1);
        else if (Vector256.IsHardwareAccelerated) GemmDriver<GemmKernel256>.Run(in g, m0, m1, n0, n1);
        else GemmDriver<GemmKernelScalar>.Run(in g, m0, m1, n0, n1);
    }

    private static void Zero(Span<float> c, int m, int n, int ldc)
    {
        for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckMatrix(transA ? k : m, transA ? m : k, aLength, lda, "a", nameof(lda));
        CheckMatrix(transB ? n : k, transB ? k : n, bLength, ldb, "b", nameof(ldb));
        CheckMatrix(m, n, cLength, ldc, "c", nameof(ldc));
    }

    // A stored rows×cols matrix with row stride ld must have ld ≥ cols and (rows-1)·ld + cols elements.
    private static void CheckMatrix(int rows, int cols, int length, int ld, string name, string ldName)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols)
        {
            throw new ArgumentException($"{ldName} = {ld} is less than the {cols} columns of {name} as stored.", ldName);
        }
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed)
        {
            throw new ArgumentException(
                $"{name} has {length} elements; a stored {rows}×{cols} matrix with row stride {ld} needs {needed}.", name);
        }
    }
}
