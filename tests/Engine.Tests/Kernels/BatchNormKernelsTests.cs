using Distributed.Engine.Kernels;

namespace Distributed.Engine.Tests.Kernels;

public unsafe class BatchNormKernelsTests
{
    public static IEnumerable<object[]> Channels() => Enumerable.Range(0, 257).Select(c => new object[] { c });

    [Theory]
    [MemberData(nameof(Channels))]
    public void Forward_and_backward_equal_the_scalar_formulas_over_fixed_row_blocks_bit_for_bit(int c)
    {
        const int rows = 2 * BatchNormKernels.BlockRows + 37;
        const int blocks = 3;
        const double epsilon = 1e-3;
        var rng = new Random(c + 5);
        float[] x = DepthwiseKernelsTests.Fill(rng, rows * c), dy = DepthwiseKernelsTests.Fill(rng, rows * c);
        float[] gamma = DepthwiseKernelsTests.Fill(rng, c), beta = DepthwiseKernelsTests.Fill(rng, c);
        for (int i = 0; i < x.Length; i++) x[i] = 3f + 2f * x[i];

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
            mean[ch] = (float)(BlockSum(ch, o => x[o]) / rows);
            double sq = BlockSum(ch, o => { double d = x[o] - (double)mean[ch]; return d * d; });
            invStd[ch] = (float)(1.0 / Math.Sqrt(sq / rows + epsilon));
            for (int r = 0; r < rows; r++)
            {
                int o = r * c + ch;
                xhat[o] = (x[o] - mean[ch]) * invStd[ch];
                y[o] = gamma[ch] * xhat[o] + beta[ch];
            }
            sums[ch] = BlockSum(ch, o => dy[o]);
            sumsSq[ch] = BlockSum(ch, o => dy[o] * xhat[o]);
            for (int r = 0; r < rows; r++)
            {
                int o = r * c + ch;
                double g = dy[o] - sums[ch] / rows - xhat[o] * (sumsSq[ch] / rows);
                dx[o] = (float)(gamma[ch] * invStd[ch] * g);
            }
        }

        var kMean = new float[c]; var kInv = new float[c];
        var kXhat = new float[rows * c]; var kY = new float[rows * c]; var kDx = new float[rows * c];
        var partial = new double[blocks * c]; var partialSq = new double[blocks * c];
        var sum = new double[c]; var sumSq = new double[c];
        fixed (float* px = x, pdy = dy, pg = gamma, pb = beta, pm = kMean, pi = kInv, pxh = kXhat, py = kY, pdx = kDx)
        fixed (double* pp = partial, ppq = partialSq, ps = sum, pss = sumSq)
        {
            // Blocks in reverse order: which thread (or when) a block is computed must not matter.
            for (int b = blocks - 1; b >= 0; b--) BatchNormKernels.Sums(px, R0(b), R1(b), c, pp + b * c);
            BatchNormKernels.AddBlocks(pp, blocks, c, ps);
            for (int ch = 0; ch < c; ch++) kMean[ch] = (float)(sum[ch] / rows);
            for (int b = blocks - 1; b >= 0; b--) BatchNormKernels.CentredSquares(px, R0(b), R1(b), c, pm, ppq + b * c);
            BatchNormKernels.AddBlocks(ppq, blocks, c, pss);
            for (int ch = 0; ch < c; ch++) kInv[ch] = (float)(1.0 / Math.Sqrt(sumSq[ch] / rows + epsilon));
            BatchNormKernels.Normalize(px, 0, 100, c, pm, pi, pg, pb, pxh, py);
            BatchNormKernels.Normalize(px, 100, rows, c, pm, pi, pg, pb, pxh, py);
            for (int b = blocks - 1; b >= 0; b--) BatchNormKernels.GradientSums(pdy, pxh, R0(b), R1(b), c, pp + b * c, ppq + b * c);
            BatchNormKernels.AddBlocks(pp, blocks, c, ps);
            BatchNormKernels.AddBlocks(ppq, blocks, c, pss);
            var means = sum.Select(v => v / rows).ToArray();
            var meansSq = sumSq.Select(v => v / rows).ToArray();
            fixed (double* pm1 = means, pm2 = meansSq)
            {
                BatchNormKernels.InputGradient(pdy, pxh, 0, 777, c, pm1, pm2, pg, pi, pdx);
                BatchNormKernels.InputGradient(pdy, pxh, 777, rows, c, pm1, pm2, pg, pi, pdx);
            }
        }
        Assert.Equal(mean, kMean);
        Assert.Equal(invStd, kInv);
        Assert.Equal(xhat, kXhat);
        Assert.Equal(y, kY);
        Assert.Equal(sums, sum);
        Assert.Equal(sumsSq, sumSq);
        Assert.Equal(dx, kDx);

        static int R0(int b) => b * BatchNormKernels.BlockRows;
        static int R1(int b) => Math.Min(rows, (b + 1) * BatchNormKernels.BlockRows);
    }
}
