using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class MaxPooling2DTests
{
    private static void RunGolden(string file)
    {
        var g = GoldenCase.Load(file);
        var x = GoldenCase.NchwToNhwc(g.Tensor("x"));
        int n = x.Shape[0];
        int k = g.ConfigInts("kernel")[0], stride = g.ConfigInts("stride")[0];
        var layer = new MaxPooling2D(k, stride);
        var h = new LayerHarness(TensorShape.Image(x.Shape[1], x.Shape[2], x.Shape[3]), layer, n);
        var yExpected = GoldenCase.NchwToNhwc(g.Tensor("y"));
        Assert.Equal(TensorShape.Image(yExpected.Shape[1], yExpected.Shape[2], yExpected.Shape[3]), layer.OutputShape);
        var xs = x.ToFloats();
        var y = h.Forward(xs, n, StepContext.Inference());
        GoldenCase.AssertClose(yExpected.Data, y, what: $"{file} y");
        var dx = h.Backward(xs, y, GoldenCase.NchwToNhwc(g.Tensor("grad_y")).ToFloats(), n);
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("grad_x")).Data, dx, what: $"{file} grad_x");
    }

    [Fact]
    public void Forward_and_backward_match_pytorch_golden_for_pool_2_stride_2() => RunGolden("maxpool_2x2_s2");

    [Fact]
    public void Forward_and_backward_match_pytorch_golden_for_overlapping_pool_3_stride_2() => RunGolden("maxpool_3x3_s2");

    /// <summary>Distinct values at least 0.05 apart, shuffled: no ties within ±eps.</summary>
    private static float[] DistinctValues(int count, int seed)
    {
        var rng = new Random(seed);
        var v = Enumerable.Range(0, count).Select(i => (float)(i * 0.05 - count * 0.025)).ToArray();
        rng.Shuffle(v);
        return v;
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int batch = 2;
        var h = new LayerHarness(TensorShape.Image(6, 6, 2), new MaxPooling2D(3, 2), batch);
        var x = DistinctValues(batch * h.InSize, 111);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 112, eps: 1e-2f);
    }

    [Fact]
    public void Backward_matches_finite_differences_with_same_padding()
    {
        const int batch = 2;
        var layer = new MaxPooling2D(2, 2, PaddingMode.Same);
        var h = new LayerHarness(TensorShape.Image(5, 5, 2), layer, batch);
        Assert.Equal(TensorShape.Image(3, 3, 2), layer.OutputShape);
        var x = DistinctValues(batch * h.InSize, 113);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 114, eps: 1e-2f);
    }

    [Fact]
    public void Ties_route_the_gradient_to_the_first_maximum_in_scan_order()
    {
        var h = new LayerHarness(TensorShape.Image(2, 2, 1), new MaxPooling2D(2), 1);
        float[] x = [1f, 1f, 1f, 1f];
        var y = h.Forward(x, 1, StepContext.Inference());
        var dx = h.Backward(x, y, [5f], 1);
        Assert.Equal([5f, 0f, 0f, 0f], dx);
    }
}
