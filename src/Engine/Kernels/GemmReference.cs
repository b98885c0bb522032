namespace Distributed.Engine.Kernels;

/// <summary>
/// The naive triple loop with the same contract as <see cref="Gemm.Multiply(bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool)"/>:
/// the test oracle for <see cref="Gemm"/>. Accumulates each dot product in double, so it is also the more
/// accurate of the two. Slow; not for production use.
/// </summary>
public static class GemmReference
{
    /// <summary>
    /// C[m×n] = op(A)[m×k] · op(B)[k×n], or C += op(A) · op(B) when <paramref name="accumulate"/> is true. Row-major.
    /// </summary>
    /// <param name="transA">false: element (i,p) of A at <c>a[i*lda+p]</c>; true: at <c>a[p*lda+i]</c>.</param>
    /// <param name="transB">false: element (p,j) of B at <c>b[p*ldb+j]</c>; true: at <c>b[j*ldb+p]</c>.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">Inner dimension.</param>
    /// <param name="a">Storage of A.</param>
    /// <param name="lda">Row stride of A as stored.</param>
    /// <param name="b">Storage of B.</param>
    /// <param name="ldb">Row stride of B as stored.</param>
    /// <param name="c">Storage of C.</param>
    /// <param name="ldc">Row stride of C.</param>
    /// <param name="accumulate">Add the product to C instead of overwriting it.</param>
    /// <exception cref="ArgumentException">A dimension is negative or a span is too short for the indices it must hold.</exception>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m > 0 && n > 0 && (long)(m - 1) * ldc + n > c.Length) throw new ArgumentException("c is too short.", nameof(c));
        if (m > 0 && k > 0 && (transA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k) > a.Length)
        {
            throw new ArgumentException("a is too short.", nameof(a));
        }
        if (k > 0 && n > 0 && (transB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n) > b.Length)
        {
            throw new ArgumentException("b is too short.", nameof(b));
        }
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float x = transA ? a[p * lda + i] : a[i * lda + p];
                    float y = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += (double)x * y;
                }
                c[i * ldc + j] = accumulate ? (float)(c[i * ldc + j] + sum) : (float)sum;
            }
        }
    }
}
