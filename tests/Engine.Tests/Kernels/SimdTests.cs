using Distributed.Engine.Kernels;

namespace Distributed.Engine.Tests.Kernels;

/// <summary>The element-wise kernels at every length 0..256 (vector bodies and scalar tails) against scalar references.</summary>
public class SimdTests
{
    public static IEnumerable<object[]> Lengths() => Enumerable.Range(0, 257).Select(n => new object[] { n });

    private static float[] Values(int n, int seed)
    {
        var x = DepthwiseKernelsTests.Fill(new Random(seed), n);
        // Exact kinks and the ReLU6 cap appear too, where the gradient convention matters.
        for (int i = 0; i < n; i += 7) x[i] = (i / 7 % 3) switch { 0 => 0f, 1 => 6f, _ => 8f };
        return x;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ActivationGradient_passes_dy_exactly_where_the_output_is_on_the_slope(int n)
    {
        float[] y = Values(n, n), dy = Values(n, n + 1000);
        foreach (float cap in new[] { float.PositiveInfinity, 6f })
        {
            var dx = new float[n];
            Simd.ActivationGradient(y, dy, dx, cap);
            for (int i = 0; i < n; i++) Assert.Equal(y[i] > 0f && y[i] < cap ? dy[i] : 0f, dx[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SumRows_and_AddBiasRows_equal_their_documented_scalar_sums_bit_for_bit(int c)
    {
        // 37 rows: several whole periods of lcm(C, 8) floats and a partial one for every C below 16.
        const int rows = 37;
        float[] dy = Values(rows * c, c), bias = Values(c, c + 1);
        var sum = new float[c];
        Simd.SumRows(dy, rows, sum);
        var y = (float[])dy.Clone();
        Simd.AddBiasRows(y, bias, rows);
        var expected = new float[c];
        if (c is > 0 and < 16)
        {
            int period = Enumerable.Range(1, 8).Select(k => k * c).First(n => n % 8 == 0), periods = rows * c / period;
            var partial = new float[period];
            for (int k = 0; k < periods; k++)
                for (int i = 0; i < period; i++) partial[i] += dy[k * period + i];
            for (int i = 0; i < period; i++) expected[i % c] += partial[i];
            for (int i = periods * period; i < rows * c; i++) expected[i % c] += dy[i];
        }
        else
        {
            for (int r = 0; r < rows; r++)
                for (int ch = 0; ch < c; ch++) expected[ch] += dy[r * c + ch];
        }
        Assert.Equal(expected, sum);
        for (int ch = 0; ch < c; ch++)
            for (int r = 0; r < rows; r++) Assert.Equal(dy[r * c + ch] + bias[ch], y[r * c + ch]);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Pool_update_keeps_the_first_maximum_and_takes_NaN(int n)
    {
        float[] a = Values(n, n), b = Values(n, n + 7);
        if (n > 3) { a[3] = b[3]; b[1 % n] = float.NaN; }
        var best = new float[n];
        var index = new int[n];
        PoolKernels.Seed(a, 100, best, index);
        PoolKernels.Update(b, 500, best, index);
        for (int i = 0; i < n; i++)
        {
            bool take = b[i] > a[i] || float.IsNaN(b[i]);
            Assert.Equal(take ? b[i] : a[i], best[i]);
            Assert.Equal(take ? 500 + i : 100 + i, index[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Threaded_relu_and_its_gradient_equal_the_serial_result(int n)
    {
        // Scaled up past the threading threshold for the longer cases.
        int length = n * 300;
        float[] x = Values(length, n), dy = Values(length, n + 3);
        var serial = new float[length];
        var serialDx = new float[length];
        ParallelElementwise.Relu(x, serial, length, 6f, threads: 1);
        ParallelElementwise.ReluGradient(serial, dy, serialDx, length, 6f, threads: 1);
        for (int i = 0; i < length; i++) Assert.Equal(Math.Min(Math.Max(x[i], 0f), 6f), serial[i]);
        foreach (int threads in new[] { 2, 3 })
        {
            var y = new float[length];
            var dx = new float[length];
            ParallelElementwise.Relu(x, y, length, 6f, threads);
            ParallelElementwise.ReluGradient(y, dy, dx, length, 6f, threads);
            Assert.Equal(serial, y);
            Assert.Equal(serialDx, dx);
        }
    }
}
