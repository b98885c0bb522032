using Distributed.Engine.Kernels;
using Xunit;

namespace Distributed.Engine.Tests.Kernels;

/// <summary>The implicit-im2col product against unfolding the patch matrix and multiplying it: the same bits.</summary>
public sealed class GemmPatchesTests
{
    // (H, W, C, KH, KW, stride, pad, samples): padding, strides, patches shorter and longer than a KC slice
    // (3·3·32 = 288 crosses the AVX2 kernel's 256), pixel counts across several MC blocks, odd channel counts.
    public static TheoryData<int, int, int, int, int, int, int, int> Shapes() => new()
    {
        { 5, 5, 1, 3, 3, 1, 0, 1 },
        { 7, 6, 3, 3, 3, 2, 1, 3 },
        { 9, 9, 5, 5, 5, 1, 2, 2 },
        { 12, 12, 7, 3, 3, 1, 1, 2 },
        { 26, 26, 32, 3, 3, 1, 0, 3 },
        { 14, 14, 17, 3, 2, 2, 1, 2 },
        { 10, 10, 48, 3, 3, 1, 1, 1 },
        { 8, 8, 16, 1, 3, 1, 0, 4 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void Implicit_products_equal_unfold_then_multiply_bitwise(int h, int w, int c, int kh, int kw, int stride, int pad, int samples)
    {
        int oh = (h + 2 * pad - kh) / stride + 1, ow = (w + 2 * pad - kw) / stride + 1;
        var g = new ConvGeometry(h, w, c, kh, kw, stride, stride, pad, pad, oh, ow);
        var rng = new Random(HashCode.Combine(h, w, c, kh, kw, stride, pad, samples));
        float[] x = Fill(rng, samples * g.InputSize);
        int rows = samples * g.OutputPixels, k = g.PatchSize;
        var cols = new float[rows * k];
        Im2Col.Unfold(x, samples, g, cols);
        foreach (int f in new[] { 1, 5, 16, 33, 64 })
        {
            float[] kernel = Fill(rng, k * f), dy = Fill(rng, rows * f);
            foreach (int threads in new[] { 1, 2, 3 })
            {
                // Forward: y = P · K.
                var expected = new float[rows * f];
                var actual = new float[rows * f];
                Gemm.Multiply(false, false, rows, f, k, cols, k, kernel, f, expected, f, accumulate: false, threads);
                fixed (float* px = x) Gemm.MultiplyPatches(false, rows, f, k, px, in g, kernel, f, actual, f, accumulate: false, threads);
                Assert.Equal(expected, actual);

                // Kernel gradient: dK = Pᵀ · dy, accumulating onto what is there.
                float[] dkExpected = Fill(new Random(f), k * f), dkActual = (float[])dkExpected.Clone();
                Gemm.Multiply(true, false, k, f, rows, cols, k, dy, f, dkExpected, f, accumulate: true, threads);
                fixed (float* px = x) Gemm.MultiplyPatches(true, k, f, rows, px, in g, dy, f, dkActual, f, accumulate: true, threads);
                Assert.Equal(dkExpected, dkActual);
            }
        }
    }

    [Fact]
    public unsafe void A_patch_matrix_that_does_not_fit_the_geometry_is_refused()
    {
        var g = new ConvGeometry(5, 5, 2, 3, 3, 1, 1, 0, 0, 3, 3);
        var x = new float[g.InputSize];
        var b = new float[18 * 4];
        var c = new float[9 * 4];
        fixed (float* px = x)
        {
            float* p = px;
            Assert.Throws<ArgumentException>(() => Gemm.MultiplyPatches(false, 9, 4, 17, p, in g, b, 4, c, 4, accumulate: false, threads: 1));
            Assert.Throws<ArgumentException>(() => Gemm.MultiplyPatches(false, 8, 4, 18, p, in g, b, 4, c, 4, accumulate: false, threads: 1));
        }
    }

    private static float[] Fill(Random rng, int length)
    {
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
