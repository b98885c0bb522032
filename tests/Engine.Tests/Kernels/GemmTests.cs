using Distributed.Engine.Kernels;
using Xunit;

namespace Distributed.Engine.Tests.Kernels;

public sealed class GemmTests
{
    private const float Sentinel = 12345.5f;

    private static readonly int[] Dims = [0, 1, 2, 3, 5, 7, 13, 15, 16, 17, 31, 33, 64, 65, 100, 127];
    private static readonly int[] Depths = [0, 1, 3, 16, 33, 127];

    public static TheoryData<bool, bool, bool> TransAccumulate()
    {
        var data = new TheoryData<bool, bool, bool>();
        foreach (bool ta in new[] { false, true })
        {
            foreach (bool tb in new[] { false, true })
            {
                foreach (bool acc in new[] { false, true }) data.Add(ta, tb, acc);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(TransAccumulate))]
    public void OddShapesMatchReference(bool transA, bool transB, bool accumulate)
    {
        var rng = new Random(HashCode.Combine(transA, transB, accumulate));
        foreach (int m in Dims)
        {
            foreach (int n in Dims)
            {
                foreach (int k in Depths)
                {
                    // Vary the padding of the strides with the shape: 0, 1 or 5 extra elements per row.
                    int pad = ((m + n + k) % 3) switch { 0 => 0, 1 => 1, _ => 5 };
                    Check(rng, transA, transB, m, n, k, pad, accumulate);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TransAccumulate))]
    public void LargeStridesMatchReference(bool transA, bool transB, bool accumulate)
    {
        var rng = new Random(7);
        Check(rng, transA, transB, 37, 45, 300, pad: 64, accumulate);
        Check(rng, transA, transB, 29, 70, 520, pad: 3, accumulate);
        Check(rng, transA, transB, 200, 3100, 5, pad: 17, accumulate);
    }

    [Theory]
    [InlineData(false, false, 2048, 32, 9)]
    [InlineData(false, false, 1024, 64, 288)]
    [InlineData(true, false, 128, 128, 9216)]
    [InlineData(false, true, 128, 128, 9216)]
    [InlineData(true, false, 128, 9216, 128)]
    [InlineData(false, true, 128, 9216, 128)]
    [InlineData(false, true, 64, 10, 1152)]
    [InlineData(true, false, 288, 64, 1024)]
    [InlineData(false, false, 300, 300, 300)]
    public void ModelShapesMatchReference(bool transA, bool transB, int m, int n, int k)
    {
        var rng = new Random(m * 31 + n * 7 + k);
        Check(rng, transA, transB, m, n, k, pad: 0, accumulate: false);
        Check(rng, transA, transB, m, n, k, pad: 0, accumulate: true);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void EveryRowAndColumnCountUpTo256(bool transA, bool transB)
    {
        var rng = new Random(3);
        for (int len = 0; len <= 256; len++)
        {
            Check(rng, transA, transB, 1, len, 37, pad: 1, accumulate: len % 2 == 1);
            Check(rng, transA, transB, len, 1, 37, pad: 2, accumulate: len % 2 == 0);
            Check(rng, transA, transB, len, len % 40, 5, pad: 0, accumulate: false);
        }
    }

    [Theory]
    [InlineData(false, false, 300, 200, 50)]
    [InlineData(true, false, 1000, 33, 77)]
    [InlineData(false, true, 17, 1000, 100)]
    [InlineData(true, true, 128, 9216, 128)]
    [InlineData(false, false, 333, 333, 700)]
    public void ThreadedIsBitwiseEqualToSerial(bool transA, bool transB, int m, int n, int k)
    {
        var rng = new Random(11);
        int lda = transA ? m : k, ldb = transB ? k : n;
        float[] a = Random(rng, (transA ? k : m) * lda), b = Random(rng, (transB ? n : k) * ldb);
        float[] c0 = Random(rng, m * n);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] serial = (float[])c0.Clone();
            Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, serial, n, accumulate);
            foreach (int threads in new[] { 1, 2, 3 })
            {
                float[] threaded = (float[])c0.Clone();
                Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, threaded, n, accumulate, threads);
                Assert.True(serial.AsSpan().SequenceEqual(threaded), $"threads={threads} accumulate={accumulate} differs from serial");
            }
        }
    }

    [Fact]
    public void SteadyStateCallsDoNotAllocate()
    {
        var rng = new Random(5);
        float[] a = Random(rng, 200 * 300), b = Random(rng, 300 * 150), c = new float[200 * 150];
        Gemm.Multiply(false, true, 200, 150, 300, a, 300, b, 300, c, 150, false);
        Gemm.Multiply(false, true, 200, 150, 300, a, 300, b, 300, c, 150, false, 2);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++)
        {
            Gemm.Multiply(false, true, 200, 150, 300, a, 300, b, 300, c, 150, true);
            Gemm.Multiply(true, false, 150, 200, 300, b, 150, a, 200, c, 200, false);
            Gemm.Multiply(false, true, 200, 150, 300, a, 300, b, 300, c, 150, false, 2);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void KZeroZeroesCOrLeavesItWhenAccumulating()
    {
        float[] c = [1, 2, 3, 4, 5, 6];
        Gemm.Multiply(false, false, 2, 2, 0, [], 0, [], 2, c, 3, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, c);
        Gemm.Multiply(false, false, 2, 2, 0, [], 0, [], 2, c, 3, accumulate: false);
        Assert.Equal(new float[] { 0, 0, 3, 0, 0, 6 }, c);
        Gemm.Multiply(false, false, 2, 2, 0, [], 0, [], 2, c.AsSpan(0, 5), 3, accumulate: false, threads: 2);
    }

    [Fact]
    public void InvalidArgumentsThrowBeforeWriting()
    {
        float[] a = new float[6], b = new float[6], c = [9, 9, 9, 9];
        // 2×3 · 3×2 = 2×2 is valid with these lengths.
        Gemm.Multiply(false, false, 2, 2, 3, a, 3, b, 2, c, 2, false);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, -1, 2, 3, a, 3, b, 2, c, 2, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 2, 2, 3, a, 3, b, 2, c, 2, false, 0));
        c = [9, 9, 9, 9];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a, 2, b, 2, c, 2, false)); // lda < k
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a.AsSpan(0, 5), 3, b, 2, c, 2, false));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(true, false, 2, 2, 3, a, 3, b, 2, c, 2, false)); // stored 3×2 needs 2·3+2 = 8
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, true, 2, 2, 3, a, 3, b, 2, c, 2, false)); // ldb < k
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a, 3, b, 2, c.AsSpan(0, 3), 2, false));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a, 3, b, 2, c, 1, false)); // ldc < n
        Assert.Equal(new float[] { 9, 9, 9, 9 }, c);
        // Zero-size products need no storage at all.
        Gemm.Multiply(false, false, 0, 0, 0, [], 0, [], 0, [], 0, false);
        Gemm.Multiply(true, true, 0, 5, 7, [], 0, new float[35], 7, [], 5, false);
    }

    // Runs one product into a C whose padding columns hold a sentinel, and checks it against the reference.
    private static void Check(Random rng, bool transA, bool transB, int m, int n, int k, int pad, bool accumulate)
    {
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        float[] a = Random(rng, StoredLength(transA ? k : m, transA ? m : k, lda));
        float[] b = Random(rng, StoredLength(transB ? n : k, transB ? k : n, ldb));
        float[] c = Random(rng, StoredLength(m, n, ldc));
        for (int i = 0; i < m; i++)
        {
            for (int j = n; j < ldc && i * ldc + j < c.Length; j++) c[i * ldc + j] = Sentinel;
        }
        float[] expected = (float[])c.Clone();
        GemmReference.Multiply(transA, transB, m, n, k, a, lda, b, ldb, expected, ldc, accumulate);
        Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);

        double tolerance = 1e-5 * Math.Sqrt(Math.Max(k, 1));
        for (int i = 0; i < c.Length; i++)
        {
            double want = expected[i], got = c[i];
            if (Math.Abs(got - want) > tolerance * Math.Max(1, Math.Abs(want)))
            {
                Assert.Fail($"transA={transA} transB={transB} m={m} n={n} k={k} pad={pad} accumulate={accumulate}: " +
                    $"C[{i / Math.Max(ldc, 1)}, {i % Math.Max(ldc, 1)}] = {got}, expected {want}");
            }
        }
    }

    // The shortest storage the contract allows: the last row ends right after its last column.
    private static int StoredLength(int rows, int cols, int ld) => rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;

    private static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
