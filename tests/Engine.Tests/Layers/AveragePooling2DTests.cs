using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class AveragePooling2DTests
{
    [Fact]
    public void Forward_and_backward_match_pytorch_golden_for_pool_2_stride_2()
    {
        var g = GoldenCase.Load("avgpool_2x2_s2");
        var x = GoldenCase.NchwToNhwc(g.Tensor("x"));
        int n = x.Shape[0];
        var layer = new AveragePooling2D(g.ConfigInts("kernel")[0], g.ConfigInts("stride")[0]);
        var h = new LayerHarness(TensorShape.Image(x.Shape[1], x.Shape[2], x.Shape[3]), layer, n);
        var xs = x.ToFloats();
        var y = h.Forward(xs, n, StepContext.Inference());
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("y")).Data, y, what: "avgpool y");
        var dx = h.Backward(xs, y, GoldenCase.NchwToNhwc(g.Tensor("grad_y")).ToFloats(), n);
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("grad_x")).Data, dx, what: "avgpool grad_x");
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int batch = 2;
        var h = new LayerHarness(TensorShape.Image(6, 6, 2), new AveragePooling2D(3, 2), batch);
        var x = GradientCheck.Uniform(batch * h.InSize, 121);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 122);
    }

    [Fact]
    public void Backward_matches_finite_differences_with_same_padding()
    {
        const int batch = 2;
        var h = new LayerHarness(TensorShape.Image(5, 5, 2), new AveragePooling2D(2, 2, PaddingMode.Same), batch);
        var x = GradientCheck.Uniform(batch * h.InSize, 123);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 124);
    }

    [Fact]
    public void Same_padding_averages_only_the_input_pixels_a_window_covers()
    {
        // 3×3 input, pool 2, stride 2, same → 2×2 output; the bottom/right windows are partial (Keras excludes the padding).
        var layer = new AveragePooling2D(2, 2, PaddingMode.Same);
        var h = new LayerHarness(TensorShape.Image(3, 3, 1), layer, 1);
        float[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var y = h.Forward(x, 1, StepContext.Inference());
        Assert.Equal([3f, 4.5f, 7.5f, 9f], y);
    }
}
