using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class DepthwiseConv2DTests
{
    private static void RunGolden(string file)
    {
        var g = GoldenCase.Load(file);
        var x = g.Tensor("x");
        var weight = g.Tensor("weight");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        Assert.Equal(c, g.Config.GetProperty("groups").GetInt32());
        int k = weight.Shape[2], stride = g.ConfigInts("stride")[0];
        bool useBias = g.ConfigBool("bias");
        var (mode, pad) = g.Padding();

        var layer = new DepthwiseConv2D(k, stride, mode, pad, useBias);
        var harness = new LayerHarness(TensorShape.Image(h, w, c), layer, n);
        var yExpected = GoldenCase.NchwToNhwc(g.Tensor("y"));
        Assert.Equal(TensorShape.Image(yExpected.Shape[1], yExpected.Shape[2], yExpected.Shape[3]), layer.OutputShape);
        harness.SetParameter(0, GoldenCase.DepthwiseWeightToKeras(weight).Data);
        if (useBias) harness.SetParameter(1, g.Tensor("bias").Data);

        var xs = GoldenCase.NchwToNhwc(x).ToFloats();
        var y = harness.Forward(xs, n, StepContext.Inference());
        GoldenCase.AssertClose(yExpected.Data, y, what: $"{file} y (NHWC)");

        var dy = GoldenCase.NchwToNhwc(g.Tensor("grad_y")).ToFloats();
        harness.Model.Gradients.AsSpan().Fill(float.NaN);
        var dx = harness.Backward(xs, y, dy, n);
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("grad_x")).Data, dx, what: $"{file} grad_x (NHWC)");
        GoldenCase.AssertClose(GoldenCase.DepthwiseWeightToKeras(g.Tensor("grad_weight")).Data, harness.Gradient(0), what: $"{file} grad_weight (KH,KW,C)");
        if (useBias) GoldenCase.AssertClose(g.Tensor("grad_bias").Data, harness.Gradient(1), what: $"{file} grad_bias");
    }

    [Fact]
    public void Forward_and_backward_match_pytorch_golden_for_stride_1_padding_1() => RunGolden("depthwise_s1_p1");

    [Fact]
    public void Forward_and_backward_match_pytorch_golden_for_stride_2_same_padding() => RunGolden("depthwise_s2_same");

    [Fact]
    public void Backward_matches_finite_differences_for_stride_2_same_padding()
    {
        const int batch = 2;
        var layer = new DepthwiseConv2D(3, stride: 2, padding: PaddingMode.Same);
        var h = new LayerHarness(TensorShape.Image(6, 6, 3), layer, batch);
        h.RandomizeParameters(61);
        var x = GradientCheck.Uniform(batch * h.InSize, 62);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 63);
    }

    [Fact]
    public void Backward_matches_finite_differences_with_bias_and_relu6()
    {
        const int batch = 2;
        var layer = new DepthwiseConv2D(3, stride: 1, padding: PaddingMode.Explicit, pad: 1, useBias: true, activation: Activation.Relu6);
        var h = new LayerHarness(TensorShape.Image(4, 4, 3), layer, batch);
        h.RandomizeParameters(71, scale: 2.0);
        var x = GradientCheck.Uniform(batch * h.InSize, 72, -2, 2);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 73, eps: 1e-3f, region: GradientCheck.ReluRegion(6f));
    }

    [Fact]
    public void Frozen_layer_leaves_its_gradient_span_untouched()
    {
        const int batch = 2;
        var layer = new DepthwiseConv2D(3, useBias: true) { Trainable = false };
        var h = new LayerHarness(TensorShape.Image(5, 5, 3), layer, batch);
        h.RandomizeParameters(81);
        h.Model.Gradients.AsSpan().Fill(42f);
        var x = GradientCheck.Uniform(batch * h.InSize, 82);
        var y = h.Forward(x, batch, StepContext.Inference());
        h.Backward(x, y, GradientCheck.Uniform(y.Length, 83), batch);
        Assert.All(h.Model.Gradients, v => Assert.Equal(42f, v));
    }
}
