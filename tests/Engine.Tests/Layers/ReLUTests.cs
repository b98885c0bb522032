using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class ReLUTests
{
    private static void RunGolden(string file, Layer layer)
    {
        var g = GoldenCase.Load(file);
        var x = GoldenCase.NchwToNhwc(g.Tensor("x"));
        int n = x.Shape[0];
        var h = new LayerHarness(TensorShape.Image(x.Shape[1], x.Shape[2], x.Shape[3]), layer, n);
        var xs = x.ToFloats();
        var y = h.Forward(xs, n, StepContext.Inference());
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("y")).Data, y, what: $"{file} y");
        var dx = h.Backward(xs, y, GoldenCase.NchwToNhwc(g.Tensor("grad_y")).ToFloats(), n);
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("grad_x")).Data, dx, what: $"{file} grad_x");
    }

    [Fact]
    public void Forward_and_backward_match_pytorch_golden_for_relu() => RunGolden("relu", new ReLU());

    [Fact]
    public void Forward_and_backward_match_pytorch_golden_for_relu6() => RunGolden("relu6", new ReLU6());

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int batch = 2;
        var h = new LayerHarness(TensorShape.Image(3, 3, 4), new ReLU(), batch);
        var x = GradientCheck.AwayFrom(batch * h.InSize, 101, scale: 3, margin: 0.05, 0);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 102, region: GradientCheck.ReluRegion());
    }

    [Fact]
    public void Backward_matches_finite_differences_for_relu6()
    {
        const int batch = 2;
        var h = new LayerHarness(TensorShape.Vector(20), new ReLU6(), batch);
        var x = GradientCheck.AwayFrom(batch * h.InSize, 103, scale: 9, margin: 0.05, 0, 6);
        Assert.Contains(x, v => v > 6f);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 104, region: GradientCheck.ReluRegion(6f));
    }

    [Fact]
    public void Gradient_is_zero_at_the_kinks_as_in_pytorch()
    {
        var h = new LayerHarness(TensorShape.Vector(4), new ReLU6(), 1);
        float[] x = [0f, 6f, 3f, -1f];
        var y = h.Forward(x, 1, StepContext.Inference());
        Assert.Equal([0f, 6f, 3f, 0f], y);
        var dx = h.Backward(x, y, [1f, 1f, 1f, 1f], 1);
        Assert.Equal([0f, 0f, 1f, 0f], dx);
    }
}
