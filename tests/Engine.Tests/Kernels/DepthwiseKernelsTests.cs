using Distributed.Engine.Kernels;

namespace Distributed.Engine.Tests.Kernels;

public unsafe class DepthwiseKernelsTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // (channels, input size, kernel, stride, pad): every channel count 1..256 crosses the 8-lane
        // blocks and the scalar tail; stride 2 and padding exercise the clipped windows.
        for (int c = 1; c <= 256; c++) yield return [c, 5, 3, 1 + c % 2, c % 3 == 0 ? 0 : 1];
        yield return [0, 4, 3, 1, 1];
        yield return [3, 7, 5, 2, 2];
    }

    private static ConvGeometry Geometry(int c, int size, int k, int stride, int pad)
    {
        int o = (size + 2 * pad - k) / stride + 1;
        return new ConvGeometry(size, size, c, k, k, stride, stride, pad, pad, o, o);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_equals_the_scalar_fused_multiply_add_reference_bit_for_bit(int c, int size, int k, int stride, int pad)
    {
        var g = Geometry(c, size, k, stride, pad);
        var rng = new Random(c * 31 + size);
        float[] x = Fill(rng, g.InputSize), w = Fill(rng, k * k * c), bias = Fill(rng, c);
        var y = new float[g.OutputPixels * c];
        var expected = new float[y.Length];
        fixed (float* px = x, pw = w, pb = bias, py = y) DepthwiseKernels.Forward(px, pw, c == 0 ? null : pb, py, in g);
        for (int oh = 0; oh < g.OutputHeight; oh++)
            for (int ow = 0; ow < g.OutputWidth; ow++)
                for (int ch = 0; ch < c; ch++)
                {
                    float acc = bias[ch];
                    foreach (var (xi, wi) in Taps(g, oh, ow)) acc = MathF.FusedMultiplyAdd(x[xi + ch], w[wi + ch], acc);
                    expected[(oh * g.OutputWidth + ow) * c + ch] = acc;
                }
        Assert.Equal(expected, y);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Gradients_equal_the_scalar_reference_bit_for_bit_for_any_channel_split(int c, int size, int k, int stride, int pad)
    {
        var g = Geometry(c, size, k, stride, pad);
        const int batch = 2;
        var rng = new Random(c * 17 + k);
        float[] x = Fill(rng, batch * g.InputSize), dy = Fill(rng, batch * g.OutputPixels * c), w = Fill(rng, k * k * c);
        var dw = new float[k * k * c];
        var dwSplit = new float[dw.Length];
        var dx = new float[g.InputSize];
        var expectedDw = new float[dw.Length];
        var expectedDx = new float[dx.Length];
        fixed (float* px = x, pdy = dy, pw = w, pdw = dw, pds = dwSplit, pdx = dx)
        {
            DepthwiseKernels.KernelGradient(px, pdy, batch, pdw, in g, 0, c);
            int middle = c / 2;
            DepthwiseKernels.KernelGradient(px, pdy, batch, pds, in g, 0, middle);
            DepthwiseKernels.KernelGradient(px, pdy, batch, pds, in g, middle, c);
            DepthwiseKernels.InputGradient(pdy, pw, pdx, in g);
        }
        for (int s = 0; s < batch; s++)
            for (int oh = 0; oh < g.OutputHeight; oh++)
                for (int ow = 0; ow < g.OutputWidth; ow++)
                    foreach (var (xi, wi) in Taps(g, oh, ow))
                        for (int ch = 0; ch < c; ch++)
                        {
                            float go = dy[s * g.OutputPixels * c + (oh * g.OutputWidth + ow) * c + ch];
                            expectedDw[wi + ch] = MathF.FusedMultiplyAdd(x[s * g.InputSize + xi + ch], go, expectedDw[wi + ch]);
                            if (s == 0) expectedDx[xi + ch] = MathF.FusedMultiplyAdd(w[wi + ch], go, expectedDx[xi + ch]);
                        }
        Assert.Equal(expectedDw, dw);
        Assert.Equal(expectedDw, dwSplit);
        Assert.Equal(expectedDx, dx);
    }

    // (input offset, kernel offset) of each tap inside the input, in (kh, kw) order.
    private static IEnumerable<(int, int)> Taps(ConvGeometry g, int oh, int ow)
    {
        for (int kh = 0; kh < g.KernelHeight; kh++)
            for (int kw = 0; kw < g.KernelWidth; kw++)
            {
                int ih = oh * g.StrideHeight - g.PadTop + kh, iw = ow * g.StrideWidth - g.PadLeft + kw;
                if ((uint)ih < (uint)g.InputHeight && (uint)iw < (uint)g.InputWidth)
                    yield return ((ih * g.InputWidth + iw) * g.Channels, (kh * g.KernelWidth + kw) * g.Channels);
            }
    }

    internal static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
