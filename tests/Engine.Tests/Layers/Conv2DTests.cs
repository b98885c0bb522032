using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class Conv2DTests
{
    // Every algorithm must pass every check that its shapes allow: im2col + GEMM, the direct loops for thin
    // patch matrices, and the planar loops for stride-1 layers with few filters and channels.
    private static Conv2D.ConvPath Path(string path) => path switch
    {
        "im2col" => Conv2D.ConvPath.Im2Col,
        "direct" => Conv2D.ConvPath.Direct,
        "planar" => Conv2D.ConvPath.Planar,
        "winograd" => Conv2D.ConvPath.Winograd,
        _ => throw new ArgumentOutOfRangeException(nameof(path), path, null),
    };

    // The layer runs the algorithm the test pinned (a pinned planar path falls back on shapes it does not take).
    private static void AssertRuns(Conv2D layer, string path) => Assert.Equal(Path(path), layer.ResolvedPath);

    /// <summary>
    /// Builds the layer from the golden config (PyTorch weight (out, in, kh, kw), NCHW data),
    /// loads the converted weights, runs forward and backward with the golden grad_y and compares
    /// y, grad_x, grad_weight and grad_bias.
    /// </summary>
    private static void RunGolden(string file, string path)
    {
        var g = GoldenCase.Load(file);
        var x = g.Tensor("x");
        var weight = g.Tensor("weight");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int filters = weight.Shape[0], k = weight.Shape[2];
        Assert.Equal(1, g.Config.GetProperty("groups").GetInt32());
        int stride = g.ConfigInts("stride")[0];
        bool useBias = g.ConfigBool("bias");
        var (mode, pad) = g.Padding();

        var layer = new Conv2D(filters, k, stride, mode, pad, useBias) { Path = Path(path) };
        var harness = new LayerHarness(TensorShape.Image(h, w, c), layer, n);
        AssertRuns(layer, path);
        var yExpected = GoldenCase.NchwToNhwc(g.Tensor("y"));
        Assert.Equal(TensorShape.Image(yExpected.Shape[1], yExpected.Shape[2], yExpected.Shape[3]), layer.OutputShape);
        if (g.ConfigHas("explicit_pads_top_bottom_left_right"))
        {
            int[] pads = g.ConfigInts("explicit_pads_top_bottom_left_right");
            Assert.Equal(pads[0], layer.Geometry.PadTop);
            Assert.Equal(pads[2], layer.Geometry.PadLeft);
        }

        harness.SetParameter(0, GoldenCase.ConvWeightToKeras(weight).Data);
        if (useBias) harness.SetParameter(1, g.Tensor("bias").Data);

        var xs = GoldenCase.NchwToNhwc(x).ToFloats();
        var y = harness.Forward(xs, n, StepContext.Inference());
        GoldenCase.AssertClose(yExpected.Data, y, what: $"{file} y (NHWC)");

        var dy = GoldenCase.NchwToNhwc(g.Tensor("grad_y")).ToFloats();
        harness.Model.Gradients.AsSpan().Fill(float.NaN);
        var dx = harness.Backward(xs, y, dy, n);
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("grad_x")).Data, dx, what: $"{file} grad_x (NHWC)");
        GoldenCase.AssertClose(GoldenCase.ConvWeightToKeras(g.Tensor("grad_weight")).Data, harness.Gradient(0), what: $"{file} grad_weight (KH,KW,Cin,Cout)");
        if (useBias) GoldenCase.AssertClose(g.Tensor("grad_bias").Data, harness.Gradient(1), what: $"{file} grad_bias");
    }

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    [InlineData("planar")]
    public void Forward_and_backward_match_pytorch_golden_for_valid_stride_1(string path) => RunGolden("conv2d_valid_s1", path);

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    public void Forward_and_backward_match_pytorch_golden_for_stride_2_padding_1(string path) => RunGolden("conv2d_s2_p1", path);

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    [InlineData("planar")]
    public void Forward_and_backward_match_pytorch_golden_without_bias_padding_1(string path) => RunGolden("conv2d_nobias", path);

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    [InlineData("planar")]
    public void Forward_and_backward_match_pytorch_golden_for_same_padding_kernel_5(string path) => RunGolden("conv2d_same_s1_k5", path);

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    public void Forward_and_backward_match_pytorch_golden_for_same_padding_stride_2_even_input_padding_bottom_right(string path) => RunGolden("conv2d_same_s2_even", path);

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    public void Forward_and_backward_match_pytorch_golden_for_pointwise_1x1(string path) => RunGolden("conv2d_pointwise_1x1", path);

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    public void Backward_matches_finite_differences_for_stride_2_same_padding_relu(string path)
    {
        const int batch = 2;
        var layer = new Conv2D(3, 3, stride: 2, padding: PaddingMode.Same, activation: Activation.Relu) { Path = Path(path) };
        var h = new LayerHarness(TensorShape.Image(6, 6, 2), layer, batch);
        Assert.Equal(0, layer.Geometry.PadTop); // TF same: total pad 1 → all of it at the bottom/right
        h.RandomizeParameters(11);
        var x = GradientCheck.Uniform(batch * h.InSize, 12);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 13, eps: 1e-3f, region: GradientCheck.ReluRegion());
    }

    // Kernels of even and odd size, non-square, 'same' (uneven padding for even sizes), 'valid' and explicit padding.
    [Theory]
    [InlineData(2, 2, PaddingMode.Same, 0, "im2col")]
    [InlineData(4, 3, PaddingMode.Same, 0, "im2col")]
    [InlineData(3, 2, PaddingMode.Valid, 0, "im2col")]
    [InlineData(2, 3, PaddingMode.Explicit, 2, "im2col")]
    [InlineData(2, 2, PaddingMode.Same, 0, "planar")]
    [InlineData(4, 3, PaddingMode.Same, 0, "planar")]
    [InlineData(3, 2, PaddingMode.Valid, 0, "planar")]
    [InlineData(2, 3, PaddingMode.Explicit, 2, "planar")]
    [InlineData(1, 5, PaddingMode.Same, 0, "planar")]
    public void Backward_matches_finite_differences_for_stride_1_kernels_of_every_parity(int kh, int kw, PaddingMode padding, int pad, string path)
    {
        const int batch = 2;
        var layer = new Conv2D(5, kh, kw, 1, 1, padding, pad, pad, useBias: true, Activation.None, null) { Path = Path(path) };
        var h = new LayerHarness(TensorShape.Image(6, 5, 3), layer, batch);
        AssertRuns(layer, path);
        h.RandomizeParameters(41);
        var x = GradientCheck.Uniform(batch * h.InSize, 42);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 43, eps: 1e-3f);
    }

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    public void Backward_matches_finite_differences_for_pointwise_1x1(string path)
    {
        const int batch = 2;
        var layer = new Conv2D(3, 1) { Path = Path(path) };
        var h = new LayerHarness(TensorShape.Image(3, 3, 4), layer, batch);
        Assert.True(layer.Geometry.IsPointwise);
        h.RandomizeParameters(21);
        var x = GradientCheck.Uniform(batch * h.InSize, 22);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 23);
    }

    [Theory]
    [InlineData("im2col")]
    [InlineData("direct")]
    [InlineData("planar")]
    public void Backward_matches_finite_differences_for_explicit_padding_relu6_without_bias(string path)
    {
        const int batch = 2;
        var layer = new Conv2D(2, 3, stride: 1, padding: PaddingMode.Explicit, pad: 1, useBias: false, activation: Activation.Relu6) { Path = Path(path) };
        var h = new LayerHarness(TensorShape.Image(4, 5, 2), layer, batch);
        h.RandomizeParameters(31, scale: 2.0);
        var x = GradientCheck.Uniform(batch * h.InSize, 32, -2, 2);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 33, eps: 1e-3f, region: GradientCheck.ReluRegion(6f));
    }

    [Theory]
    [InlineData(3, "im2col")]
    [InlineData(1, "im2col")]
    [InlineData(3, "direct")]
    [InlineData(3, "planar")]
    public void Backward_accumulates_the_kernel_gradient_over_chunks_of_samples(int k, string path)
    {
        // 64×64 outputs = 4096 rows per sample, so each sample is its own im2col chunk (k = 1 takes
        // the pointwise path); the kernel gradient must be the sum over all samples, checked
        // against a direct double reference.
        const int batch = 3, size = 64, cin = 2, f = 2;
        int p = k / 2;
        var layer = new Conv2D(f, k, padding: PaddingMode.Same) { Path = Path(path) };
        var h = new LayerHarness(TensorShape.Image(size, size, cin), layer, batch);
        AssertRuns(layer, path);
        h.RandomizeParameters(41);
        var x = GradientCheck.Uniform(batch * h.InSize, 42);
        var y = h.Forward(x, batch, StepContext.Inference());
        var dy = GradientCheck.Uniform(y.Length, 43);
        var dx = h.Backward(x, y, dy, batch);

        var kernel = h.Parameter(0).ToArray();
        var bias = h.Parameter(1).ToArray();
        var yRef = new double[y.Length];
        var dkRef = new double[kernel.Length];
        var dxRef = new double[x.Length];
        for (int s = 0; s < batch; s++)
            for (int oh = 0; oh < size; oh++)
                for (int ow = 0; ow < size; ow++)
                    for (int o = 0; o < f; o++)
                    {
                        int yi = ((s * size + oh) * size + ow) * f + o;
                        double acc = bias[o];
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++)
                            {
                                int ih = oh - p + i, iw = ow - p + j;
                                if (ih < 0 || ih >= size || iw < 0 || iw >= size) continue;
                                for (int c = 0; c < cin; c++)
                                {
                                    int xi = ((s * size + ih) * size + iw) * cin + c, ki = ((i * k + j) * cin + c) * f + o;
                                    acc += (double)x[xi] * kernel[ki];
                                    dkRef[ki] += (double)x[xi] * dy[yi];
                                    dxRef[xi] += (double)kernel[ki] * dy[yi];
                                }
                            }
                        yRef[yi] = acc;
                    }
        GoldenCase.AssertClose(yRef, y, 1e-4, 1e-5, "chunked y");
        GoldenCase.AssertClose(dkRef, h.Gradient(0), 1e-4, 1e-4, "chunked dKernel");
        GoldenCase.AssertClose(dxRef, dx, 1e-4, 1e-5, "chunked dx");
    }

    public static IEnumerable<object[]> FilterCounts() => Enumerable.Range(1, 32).Select(f => new object[] { f });

    [Theory]
    [MemberData(nameof(FilterCounts))]
    public void Direct_and_im2col_algorithms_agree_for_every_filter_count_up_to_32(int filters)
    {
        // Every width of the direct kernel's register block (1..4 vectors, full or partial) and the
        // threaded chunking (2 threads), against the im2col + GEMM path.
        int channels = 1 + filters % 3, stride = 1 + filters % 2;
        AssertAlgorithmsAgree(Conv2D.ConvPath.Direct, path => new Conv2D(filters, 3, stride, PaddingMode.Same, activation: Activation.Relu) { Path = path },
            TensorShape.Image(9, 8, channels), batch: 3, seed: filters);
    }

    // The same random layer, input and output gradient through `path` and through im2col + GEMM (2 threads):
    // y, the kernel, bias and input gradients agree.
    private static void AssertAlgorithmsAgree(Conv2D.ConvPath path, Func<Conv2D.ConvPath, Conv2D> layerFor, TensorShape input, int batch, int seed)
    {
        (float[] Y, float[] DKernel, float[] DBias, float[] Dx) Run(Conv2D.ConvPath p)
        {
            var layer = layerFor(p);
            var h = new LayerHarness(input, layer, batch);
            Assert.Equal(p, layer.ResolvedPath);
            h.Model.Threads = 2;
            h.RandomizeParameters(seed);
            var x = GradientCheck.Uniform(batch * h.InSize, seed + 1);
            var y = h.Forward(x, batch, StepContext.Inference());
            var dy = GradientCheck.Uniform(y.Length, seed + 2);
            var dx = h.Backward(x, y, dy, batch);
            return (y, h.Gradient(0), h.Gradient(1), dx);
        }
        var tested = Run(path);
        var im2col = Run(Conv2D.ConvPath.Im2Col);
        GoldenCase.AssertClose(im2col.Y.Select(v => (double)v).ToArray(), tested.Y, 1e-5, 1e-5, "y");
        GoldenCase.AssertClose(im2col.DKernel.Select(v => (double)v).ToArray(), tested.DKernel, 1e-4, 1e-5, "dKernel");
        GoldenCase.AssertClose(im2col.DBias.Select(v => (double)v).ToArray(), tested.DBias, 1e-4, 1e-5, "dBias");
        GoldenCase.AssertClose(im2col.Dx.Select(v => (double)v).ToArray(), tested.Dx, 1e-4, 1e-5, "dx");
    }

    public static IEnumerable<object[]> PlanarShapes()
    {
        // Every filter and channel count the planar loops take, kernels up to 5 wide (non-square, even and
        // odd), 'valid' and 'same', and widths that need 1, 2, 3 and 4 vectors per row and more than one segment.
        int[][] kernels = [[3, 3], [1, 3], [5, 5], [2, 4], [4, 1]];
        int[] widths = [5, 12, 20, 28, 37];
        int i = 0;
        for (int f = 1; f < 8; f++)
            for (int c = 1; c <= 4; c++, i++)
                yield return [f, c, kernels[i % kernels.Length][0], kernels[i % kernels.Length][1], i % 2 == 0 ? "valid" : "same", widths[i % widths.Length]];
    }

    [Theory]
    [MemberData(nameof(PlanarShapes))]
    public void Planar_and_im2col_algorithms_agree_on_every_shape_the_planar_loops_take(int filters, int channels, int kh, int kw, string padding, int width)
    {
        // 5 samples of 40 × width pixels: several chunks of samples, taken by 2 threads.
        var mode = padding == "same" ? PaddingMode.Same : PaddingMode.Valid;
        AssertAlgorithmsAgree(Conv2D.ConvPath.Planar, path => new Conv2D(filters, kh, kw, 1, 1, mode, 0, 0, useBias: true, Activation.Relu, null) { Path = path },
            TensorShape.Image(40, width, channels), batch: 5, seed: filters * 10 + channels);
    }

    // Channel and filter counts of one to eight vectors, 'valid', 'same' and explicit padding of 1 and 2, odd
    // and even output sizes (partial 2×2 tiles at the bottom and right).
    [Theory]
    [InlineData(8, 8, 7, 9, "valid", 0)]
    [InlineData(8, 16, 6, 5, "same", 0)]
    [InlineData(16, 8, 9, 8, "explicit", 2)]
    [InlineData(24, 32, 5, 5, "explicit", 1)]
    [InlineData(8, 64, 11, 4, "same", 0)]
    public void Winograd_and_im2col_algorithms_agree(int channels, int filters, int height, int width, string padding, int pad)
    {
        var mode = padding switch { "same" => PaddingMode.Same, "valid" => PaddingMode.Valid, _ => PaddingMode.Explicit };
        // 7 samples: several chunks for the larger images, more tiles than one block for the small channel counts.
        AssertAlgorithmsAgree(Conv2D.ConvPath.Winograd,
            path => new Conv2D(filters, 3, 3, 1, 1, mode, pad, pad, useBias: true, Activation.Relu, null) { Path = path },
            TensorShape.Image(height, width, channels), batch: 7, seed: channels + filters + height);
    }

    [Fact]
    public void Winograd_is_about_as_accurate_as_im2col_on_keras_mnist_cnns_second_layer()
    {
        // 7 samples of 26×26×32 into 64 filters: each kernel-gradient element sums 4,032 products, and
        // their float32 rounding (either algorithm's) is of the order of 1e-5 where the sum cancels. Against
        // a double-precision reference, Winograd's worst error stays within a small factor of im2col's.
        const int batch = 7, size = 26, cin = 32, f = 64, o = size - 2;
        (float[] Y, float[] DKernel, float[] Dx, float[] X, float[] Dy, float[] W, float[] B) Run(Conv2D.ConvPath path)
        {
            var layer = new Conv2D(f, 3) { Path = path };
            var h = new LayerHarness(TensorShape.Image(size, size, cin), layer, batch);
            Assert.Equal(path, layer.ResolvedPath);
            h.RandomizeParameters(71);
            var x = GradientCheck.Uniform(batch * h.InSize, 72);
            var y = h.Forward(x, batch, StepContext.Inference());
            var dy = GradientCheck.Uniform(y.Length, 73);
            var dx = h.Backward(x, y, dy, batch);
            return (y, h.Gradient(0), dx, x, dy, h.Parameter(0).ToArray(), h.Parameter(1).ToArray());
        }
        var winograd = Run(Conv2D.ConvPath.Winograd);
        var im2col = Run(Conv2D.ConvPath.Im2Col);
        float[] x = winograd.X, dy = winograd.Dy, w = winograd.W;
        var yRef = Enumerable.Range(0, batch * o * o * f).Select(i => (double)winograd.B[i % f]).ToArray();
        var dkRef = new double[w.Length];
        var dxRef = new double[x.Length];
        for (int s = 0; s < batch; s++)
            for (int oh = 0; oh < o; oh++)
                for (int ow = 0; ow < o; ow++)
                    for (int i = 0; i < 3; i++)
                        for (int j = 0; j < 3; j++)
                            for (int c = 0; c < cin; c++)
                            {
                                int xi = ((s * size + oh + i) * size + ow + j) * cin + c, ki = ((i * 3 + j) * cin + c) * f, yi = ((s * o + oh) * o + ow) * f;
                                for (int k = 0; k < f; k++)
                                {
                                    yRef[yi + k] += (double)x[xi] * w[ki + k];
                                    dkRef[ki + k] += (double)x[xi] * dy[yi + k];
                                    dxRef[xi] += (double)w[ki + k] * dy[yi + k];
                                }
                            }
        static double Worst(double[] reference, float[] actual) => reference.Select((r, i) => Math.Abs(r - actual[i])).Max();
        Assert.True(Worst(yRef, winograd.Y) <= 4 * Worst(yRef, im2col.Y) + 1e-6, $"y: {Worst(yRef, winograd.Y)} vs {Worst(yRef, im2col.Y)}");
        Assert.True(Worst(dkRef, winograd.DKernel) <= 4 * Worst(dkRef, im2col.DKernel) + 1e-6, $"dKernel: {Worst(dkRef, winograd.DKernel)} vs {Worst(dkRef, im2col.DKernel)}");
        Assert.True(Worst(dxRef, winograd.Dx) <= 4 * Worst(dxRef, im2col.Dx) + 1e-6, $"dx: {Worst(dxRef, winograd.Dx)} vs {Worst(dxRef, im2col.Dx)}");
    }

    [Theory]
    [InlineData("same", 0)]
    [InlineData("valid", 0)]
    [InlineData("explicit", 2)]
    public void Winograd_backward_matches_finite_differences(string padding, int pad)
    {
        const int batch = 2;
        var mode = padding switch { "same" => PaddingMode.Same, "valid" => PaddingMode.Valid, _ => PaddingMode.Explicit };
        var layer = new Conv2D(8, 3, 3, 1, 1, mode, pad, pad, useBias: true, Activation.None, null) { Path = Conv2D.ConvPath.Winograd };
        var h = new LayerHarness(TensorShape.Image(5, 6, 8), layer, batch);
        AssertRuns(layer, "winograd");
        h.RandomizeParameters(61);
        var x = GradientCheck.Uniform(batch * h.InSize, 62);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 63, eps: 1e-3f);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    public void Planar_forward_gives_the_direct_kernels_bits(int filters, int channels)
    {
        // Both start at the bias and add taps (kh, kw), then channels, in the same fused order.
        const int batch = 3;
        float[] Run(Conv2D.ConvPath path)
        {
            var layer = new Conv2D(filters, 3, activation: Activation.Relu) { Path = path };
            var h = new LayerHarness(TensorShape.Image(28, 26, channels), layer, batch);
            Assert.Equal(path, layer.ResolvedPath);
            h.RandomizeParameters(7);
            return h.Forward(GradientCheck.Uniform(batch * h.InSize, 8), batch, StepContext.Inference());
        }
        Assert.Equal(Run(Conv2D.ConvPath.Direct), Run(Conv2D.ConvPath.Planar));
    }

    [Fact]
    public void Frozen_layer_leaves_its_gradient_span_untouched_but_still_computes_input_gradient()
    {
        const int batch = 2;
        var trainable = new LayerHarness(TensorShape.Image(5, 5, 2), new Conv2D(3, 3, activation: Activation.Relu), batch);
        var frozenLayer = new Conv2D(3, 3, activation: Activation.Relu) { Trainable = false };
        var frozen = new LayerHarness(TensorShape.Image(5, 5, 2), frozenLayer, batch);
        trainable.RandomizeParameters(51);
        frozen.RandomizeParameters(51);
        var x = GradientCheck.Uniform(batch * frozen.InSize, 52);
        frozen.Model.Gradients.AsSpan().Fill(42f);
        var y = frozen.Forward(x, batch, StepContext.Inference());
        var dy = GradientCheck.Uniform(y.Length, 53);
        var dx = frozen.Backward(x, y, dy, batch);
        Assert.All(frozen.Model.Gradients, v => Assert.Equal(42f, v));

        var yt = trainable.Forward(x, batch, StepContext.Inference());
        var dxt = trainable.Backward(x, yt, dy, batch);
        GoldenCase.AssertClose(GoldenCase.ToDoubles(dxt), dx, 0, 0, "frozen dx vs trainable dx");
    }
}
