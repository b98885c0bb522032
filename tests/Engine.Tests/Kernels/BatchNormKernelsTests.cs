using Distributed.Engine.Kernels;

namespace Distributed.Engine.Tests.Kernels;

public unsafe class BatchNormKernelsTests
{
    public static IEnumerable<object[]> Channels() => Enumerable.Range(0, 41).Select(c => new object[] { c });

    [Theory]
    [MemberData(nameof(Channels))]
    public void Forward_and_backward_equal_the_scalar_formulas_bit_for_bit_for_any_channel_split(int c)
    {
        const int rows = 37;
        const double epsilon = 1e-3;
        var rng = new Random(c + 5);
        float[] x = DepthwiseKernelsTests.Fill(rng, rows * c), dy = DepthwiseKernelsTests.Fill(rng, rows * c);
        float[] gamma = DepthwiseKernelsTests.Fill(rng, c), beta = DepthwiseKernelsTests.Fill(rng, c);
        for (int i = 0; i < x.Length; i++) x[i] = 3f + 2f * x[i];

        // Scalar reference: the formulas as written in BatchNormalization before vectorising.
        var mean = new float[c]; var variance = new float[c]; var invStd = new float[c];
        var xhat = new float[rows * c]; var y = new float[rows * c]; var dx = new float[rows * c];
        var dGamma = new float[c]; var dBeta = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0, sumSq = 0;
            for (int r = 0; r < rows; r++) sum += x[r * c + ch];
            mean[ch] = (float)(sum / rows);
            for (int r = 0; r < rows; r++) { double d = x[r * c + ch] - (double)mean[ch]; sumSq += d * d; }
            variance[ch] = (float)(sumSq / rows);
            invStd[ch] = (float)(1.0 / Math.Sqrt(sumSq / rows + epsilon));
            double gs = 0, gss = 0;
            for (int r = 0; r < rows; r++)
            {
                int o = r * c + ch;
                xhat[o] = (x[o] - mean[ch]) * invStd[ch];
                y[o] = gamma[ch] * xhat[o] + beta[ch];
            }
            for (int r = 0; r < rows; r++) { int o = r * c + ch; gs += dy[o]; gss += dy[o] * xhat[o]; }
            dGamma[ch] = (float)gss; dBeta[ch] = (float)gs;
            for (int r = 0; r < rows; r++)
            {
                int o = r * c + ch;
                double g = dy[o] - gs / rows - xhat[o] * gss / rows;
                dx[o] = (float)(gamma[ch] * invStd[ch] * g);
            }
        }

        foreach (int split in new[] { 0, c / 2, Math.Min(c, 8) })
        {
            var kMean = new float[c]; var kVar = new float[c]; var kInv = new float[c];
            var kXhat = new float[rows * c]; var kY = new float[rows * c]; var kDx = new float[rows * c];
            var kdGamma = new float[c]; var kdBeta = new float[c];
            var sum = new double[c]; var sumSq = new double[c];
            fixed (float* px = x, pdy = dy, pg = gamma, pb = beta, pm = kMean, pv = kVar, pi = kInv, pxh = kXhat, py = kY, pdx = kDx)
            fixed (double* ps = sum, pss = sumSq)
            {
                foreach (var (c0, c1) in new[] { (0, split), (split, c) })
                {
                    BatchNormKernels.Statistics(px, rows, c, c0, c1, ps, pss, pm, pv, pi, epsilon);
                    BatchNormKernels.Normalize(px, rows, c, c0, c1, pm, pi, pg, pb, pxh, py);
                    BatchNormKernels.GradientSums(pdy, pxh, rows, c, c0, c1, ps, pss);
                    for (int ch = c0; ch < c1; ch++) { kdGamma[ch] = (float)sumSq[ch]; kdBeta[ch] = (float)sum[ch]; }
                    BatchNormKernels.InputGradient(pdy, pxh, rows, c, c0, c1, ps, pss, pg, pi, pdx);
                }
            }
            Assert.Equal(mean, kMean);
            Assert.Equal(variance, kVar);
            Assert.Equal(invStd, kInv);
            Assert.Equal(xhat, kXhat);
            Assert.Equal(y, kY);
            Assert.Equal(dGamma, kdGamma);
            Assert.Equal(dBeta, kdBeta);
            Assert.Equal(dx, kDx);
        }
    }
}
