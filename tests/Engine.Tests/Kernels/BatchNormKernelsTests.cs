using Distributed.Engine.Kernels;

namespace Distributed.Engine.Tests.Kernels;

public unsafe class BatchNormKernelsTests
{
    public static IEnumerable<object[]> Channels() => Enumerable.Range(0, 257).Select(c => new object[] { c });

    // Fused activations: none (NaN here), ReLU6 and plain ReLU, at channel counts around every vector width.
    public static IEnumerable<object[]> FusedCases() =>
        from c in new[] { 0, 1, 3, 4, 5, 7, 8, 9, 12, 16, 17, 31, 32, 33, 64, 100, 256 }
        from cap in new[] { 6f, float.PositiveInfinity }
        select new object[] { c, cap };

    [Theory]
    [MemberData(nameof(Channels))]
    public void Forward_and_backward_equal_the_scalar_formulas_over_fixed_row_blocks_bit_for_bit(int c) => Check(c, null);

    [Theory]
    [MemberData(nameof(FusedCases))]
    public void A_fused_relu_gives_the_bits_of_a_separate_relu_after_the_layer(int c, float cap) => Check(c, cap);

    private static void Check(int c, float? cap)
    {
        const int rows = 2 * BatchNormKernels.BlockRows + 37;
        const int blocks = 3;
        const int split = rows / 2 + 3; // not on a block boundary
        const double epsilon = 1e-3;
        var rng = new Random(c + 5);
        float[] x = DepthwiseKernelsTests.Fill(rng, rows * c), dy = DepthwiseKernelsTests.Fill(rng, rows * c);
        float[] gamma = DepthwiseKernelsTests.Fill(rng, c), beta = DepthwiseKernelsTests.Fill(rng, c);
        for (int i = 0; i < x.Length; i++) x[i] = 3f + 2f * x[i];
        // Exact zeros, negative zeros and values past the cap, where the activation's mask changes.
        if (cap is not null)
            for (int ch = 0; ch < c; ch++)
            {
                beta[ch] = ch % 3 != 0 ? 4f * beta[ch] + (ch % 2 == 0 ? 5f : -1f) : ch % 2 == 0 ? 0f : -0f;
                gamma[ch] = ch % 5 == 4 ? 0f : 4f * gamma[ch];
            }

        // Scalar reference: each sum formed per block of BlockRows rows in row order, blocks added in order.
        double BlockSum(int ch, Func<int, double> term)
        {
            double total = 0;
            for (int b = 0; b < blocks; b++)
            {
                double part = 0;
                for (int r = b * BatchNormKernels.BlockRows; r < Math.Min(rows, (b + 1) * BatchNormKernels.BlockRows); r++) part += term(r * c + ch);
                total += part;
            }
            return total;
        }
        var mean = new float[c]; var invStd = new float[c];
        var xhat = new float[rows * c]; var y = new float[rows * c]; var dx = new float[rows * c];
        var sums = new double[c]; var sumsSq = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double shift = x[ch], m = BlockSum(ch, o => x[o] - shift) / rows;
            double variance = Math.Max(BlockSum(ch, o => (x[o] - shift) * (x[o] - shift)) / rows - m * m, 0.0);
            mean[ch] = (float)(shift + m);
            invStd[ch] = (float)(1.0 / Math.Sqrt(variance + epsilon));
            for (int r = 0; r < rows; r++)
            {
                int o = r * c + ch;
                xhat[o] = (x[o] - mean[ch]) * invStd[ch];
                y[o] = gamma[ch] * xhat[o] + beta[ch];
            }
        }
        // What a ReLU layer after the batch norm does: its forward on y, its backward on dy.
        var g = dy;
        if (cap is { } k)
        {
            ParallelElementwise.Relu(y, y, y.Length, k, 1);
            g = new float[dy.Length];
            Simd.ActivationGradient(y, dy, g, k);
        }
        for (int ch = 0; ch < c; ch++)
        {
            sums[ch] = BlockSum(ch, o => g[o]);
            sumsSq[ch] = BlockSum(ch, o => g[o] * xhat[o]);
            for (int r = 0; r < rows; r++)
            {
                int o = r * c + ch;
                double d = g[o] - sums[ch] / rows - xhat[o] * (sumsSq[ch] / rows);
                dx[o] = (float)(gamma[ch] * invStd[ch] * d);
            }
        }

        var kMean = new float[c]; var kInv = new float[c];
        var kY = new float[rows * c]; var kDx = new float[rows * c];
        var partial = new double[blocks * c]; var partialSq = new double[blocks * c];
        var sum = new double[c]; var sumSq = new double[c];
        fixed (float* px = x, pdy = dy, pg = gamma, pb = beta, pm = kMean, pi = kInv, py = kY, pdx = kDx)
        fixed (double* pp = partial, ppq = partialSq, ps = sum, pss = sumSq)
        {
            var channels = new BatchNormChannels(pm, pi, pg, pb, c, cap.HasValue, cap ?? float.PositiveInfinity);
            // Blocks in reverse order: which thread (or when) a block is computed must not matter.
            // The first row is the shift, as the layer uses it.
            for (int b = blocks - 1; b >= 0; b--) BatchNormKernels.ShiftedSums(px, R0(b), R1(b), c, px, pp + b * c, ppq + b * c);
            BatchNormKernels.AddBlocks(pp, blocks, c, ps);
            BatchNormKernels.AddBlocks(ppq, blocks, c, pss);
            for (int ch = 0; ch < c; ch++)
            {
                double m = sum[ch] / rows;
                kMean[ch] = (float)(x[ch] + m);
                kInv[ch] = (float)(1.0 / Math.Sqrt(Math.Max(sumSq[ch] / rows - m * m, 0.0) + epsilon));
            }
            BatchNormKernels.Normalize(px, 0, 100, in channels, py);
            BatchNormKernels.Normalize(px, 100, rows, in channels, py);
            for (int b = blocks - 1; b >= 0; b--) BatchNormKernels.GradientSums(pdy, px, R0(b), R1(b), in channels, pp + b * c, ppq + b * c);
            BatchNormKernels.AddBlocks(pp, blocks, c, ps);
            BatchNormKernels.AddBlocks(ppq, blocks, c, pss);
            var means = sum.Select(v => v / rows).ToArray();
            var meansSq = sumSq.Select(v => v / rows).ToArray();
            fixed (double* pm1 = means, pm2 = meansSq)
            {
                BatchNormKernels.InputGradient(pdy, px, 0, split, in channels, pm1, pm2, pdx);
                BatchNormKernels.InputGradient(pdy, px, split, rows, in channels, pm1, pm2, pdx);
            }
        }
        Assert.Equal(mean, kMean);
        Assert.Equal(invStd, kInv);
        Assert.Equal(y, kY);
        Assert.Equal(sums, sum);
        Assert.Equal(sumsSq, sumSq);
        Assert.Equal(dx, kDx);

        static int R0(int b) => b * BatchNormKernels.BlockRows;
        static int R1(int b) => Math.Min(rows, (b + 1) * BatchNormKernels.BlockRows);
    }

    [Theory]
    [InlineData(1000f, 0.01f)]
    [InlineData(-3e4f, 1f)]
    [InlineData(0f, 1e-3f)]
    public void Shifted_one_pass_statistics_keep_float32_accuracy_far_from_zero(float offset, float spread)
    {
        const int rows = 3 * BatchNormKernels.BlockRows + 11, c = 5;
        var rng = new Random(7);
        var x = new float[rows * c];
        for (int i = 0; i < x.Length; i++) x[i] = offset + spread * (float)(rng.NextDouble() * 2 - 1) * (1 + i % c);
        // An outlier first row: the shift is as far from the mean as the data allows.
        for (int ch = 0; ch < c; ch++) x[ch] = offset + 40 * spread * (1 + ch);
        int blocks = (rows + BatchNormKernels.BlockRows - 1) / BatchNormKernels.BlockRows;
        var partial = new double[blocks * c]; var partialSq = new double[blocks * c];
        var sum = new double[c]; var sumSq = new double[c];
        fixed (float* px = x)
        fixed (double* pp = partial, ppq = partialSq, ps = sum, pss = sumSq)
        {
            for (int b = 0; b < blocks; b++)
                BatchNormKernels.ShiftedSums(px, b * BatchNormKernels.BlockRows, Math.Min(rows, (b + 1) * BatchNormKernels.BlockRows), c, px, pp + b * c, ppq + b * c);
            BatchNormKernels.AddBlocks(pp, blocks, c, ps);
            BatchNormKernels.AddBlocks(ppq, blocks, c, pss);
        }
        for (int ch = 0; ch < c; ch++)
        {
            // Two-pass reference in double: mean, then centred squares.
            double mean = 0;
            for (int r = 0; r < rows; r++) mean += x[r * c + ch];
            mean /= rows;
            double variance = 0;
            for (int r = 0; r < rows; r++) variance += (x[r * c + ch] - mean) * (x[r * c + ch] - mean);
            variance /= rows;
            double m = sum[ch] / rows, v = sumSq[ch] / rows - m * m;
            Assert.True(Math.Abs(x[ch] + m - mean) <= 1e-6 * Math.Abs(mean) + 1e-9, $"mean {x[ch] + m} vs {mean}");
            Assert.True(Math.Abs(v - variance) <= 1e-7 * variance, $"variance {v} vs {variance} (channel {ch})");
        }
    }
}
