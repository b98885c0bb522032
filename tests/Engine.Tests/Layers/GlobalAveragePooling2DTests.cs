using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class GlobalAveragePooling2DTests
{
    [Fact]
    public void Forward_and_backward_match_pytorch_golden()
    {
        var g = GoldenCase.Load("global_avgpool");
        var x = GoldenCase.NchwToNhwc(g.Tensor("x"));
        int n = x.Shape[0];
        var layer = new GlobalAveragePooling2D();
        var h = new LayerHarness(TensorShape.Image(x.Shape[1], x.Shape[2], x.Shape[3]), layer, n);
        Assert.Equal(TensorShape.Vector(x.Shape[3]), layer.OutputShape);
        var xs = x.ToFloats();
        var y = h.Forward(xs, n, StepContext.Inference());
        GoldenCase.AssertClose(g.Tensor("y").Data, y, what: "gap y");
        var dx = h.Backward(xs, y, g.Tensor("grad_y").ToFloats(), n);
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("grad_x")).Data, dx, what: "gap grad_x");
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int batch = 2;
        var h = new LayerHarness(TensorShape.Image(3, 4, 3), new GlobalAveragePooling2D(), batch);
        var x = GradientCheck.Uniform(batch * h.InSize, 131);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 132);
    }
}
