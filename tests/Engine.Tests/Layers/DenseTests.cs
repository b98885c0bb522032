using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class DenseTests
{
    [Fact]
    public void Forward_and_backward_match_pytorch_golden()
    {
        var g = GoldenCase.Load("dense");
        var x = g.Tensor("x");
        var weight = g.Tensor("weight");
        int n = x.Shape[0], inF = x.Shape[1], units = weight.Shape[0];
        Assert.Equal(g.Config.GetProperty("in").GetInt32(), inF);
        Assert.Equal(g.Config.GetProperty("out").GetInt32(), units);

        var h = new LayerHarness(TensorShape.Vector(inF), new Dense(units), n);
        h.SetParameter(0, GoldenCase.DenseWeightToKeras(weight).Data);
        h.SetParameter(1, g.Tensor("bias").Data);
        var xs = x.ToFloats();
        var y = h.Forward(xs, n, StepContext.Inference());
        GoldenCase.AssertClose(g.Tensor("y").Data, y, what: "dense y");
        h.Model.Gradients.AsSpan().Fill(float.NaN);
        var dx = h.Backward(xs, y, g.Tensor("grad_y").ToFloats(), n);
        GoldenCase.AssertClose(g.Tensor("grad_x").Data, dx, what: "dense grad_x");
        GoldenCase.AssertClose(GoldenCase.DenseWeightToKeras(g.Tensor("grad_weight")).Data, h.Gradient(0), what: "dense grad_weight (In,Units)");
        GoldenCase.AssertClose(g.Tensor("grad_bias").Data, h.Gradient(1), what: "dense grad_bias");
    }

    [Fact]
    public void Backward_matches_finite_differences_with_relu()
    {
        const int batch = 3;
        var h = new LayerHarness(TensorShape.Vector(7), new Dense(5, Activation.Relu), batch);
        h.RandomizeParameters(91);
        var x = GradientCheck.Uniform(batch * 7, 92);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 93, eps: 1e-3f, region: GradientCheck.ReluRegion());
    }

    [Fact]
    public void Backward_matches_finite_differences_linear()
    {
        const int batch = 4;
        var h = new LayerHarness(TensorShape.Vector(6), new Dense(3), batch);
        h.RandomizeParameters(94);
        var x = GradientCheck.Uniform(batch * 6, 95);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 96);
    }

    [Fact]
    public void Frozen_layer_leaves_its_gradient_span_untouched()
    {
        const int batch = 3;
        var h = new LayerHarness(TensorShape.Vector(7), new Dense(5, Activation.Relu) { Trainable = false }, batch);
        h.RandomizeParameters(97);
        h.Model.Gradients.AsSpan().Fill(42f);
        var x = GradientCheck.Uniform(batch * 7, 98);
        var y = h.Forward(x, batch, StepContext.Inference());
        var dx = h.Backward(x, y, GradientCheck.Uniform(y.Length, 99), batch);
        Assert.All(h.Model.Gradients, v => Assert.Equal(42f, v));
        Assert.Contains(dx, v => v != 0f);
    }
}
