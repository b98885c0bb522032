using System.Runtime.InteropServices;

namespace Distributed.Engine.Benchmarks;

/// <summary>
/// P/Invoke into Debian's OpenBLAS (<c>apt-get install -y libopenblas0-pthread</c>), the yardstick for
/// <see cref="Kernels.Gemm"/>. Bench only: the product never loads it. Run with <c>OPENBLAS_CORETYPE</c>
/// unset so OpenBLAS picks its AVX-512 kernels on this CPU.
/// </summary>
internal static partial class OpenBlas
{
    private const string Library = "libopenblas.so.0";
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    [LibraryImport(Library, EntryPoint = "cblas_sgemm")]
    private static unsafe partial void Sgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Library, EntryPoint = "openblas_set_num_threads")]
    private static partial void SetNumThreads(int threads);

    [LibraryImport(Library, EntryPoint = "openblas_get_corename")]
    private static partial IntPtr GetCoreName();

    /// <summary>The kernel family OpenBLAS chose at load time (e.g. "Cooperlake", "Haswell").</summary>
    public static string CoreName => Marshal.PtrToStringAnsi(GetCoreName()) ?? "?";

    /// <summary>OpenBLAS's own thread count for the following calls.</summary>
    public static void Threads(int threads) => SetNumThreads(threads);

    /// <summary>C = op(A)·op(B), row-major, with the same argument meaning as <see cref="Kernels.Gemm.Multiply(bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool)"/>.</summary>
    public static unsafe void Multiply(bool transA, bool transB, int m, int n, int k, float[] a, int lda, float[] b, int ldb, float[] c, int ldc)
    {
        fixed (float* pa = a, pb = b, pc = c)
            Sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, ldc);
    }
}
