using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class FlattenTests
{
    [Fact]
    public void Flattens_in_height_width_channel_order()
    {
        var layer = new Flatten();
        var h = new LayerHarness(TensorShape.Image(2, 3, 4), layer, 2);
        Assert.Equal(TensorShape.Vector(24), layer.OutputShape);
        var x = Enumerable.Range(0, 48).Select(i => (float)i).ToArray();
        var y = h.Forward(x, 2, StepContext.Inference());
        // Feature (h, w, c) of sample s is at (h·W + w)·C + c, as in Keras (not PyTorch's (c·H + h)·W + w).
        Assert.Equal(x[24 + (1 * 3 + 2) * 4 + 3], y[24 + 23]);
        Assert.Equal(x, y);
        var dy = GradientCheck.Uniform(48, 141);
        Assert.Equal(dy, h.Backward(x, y, dy, 2));
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int batch = 2;
        var h = new LayerHarness(TensorShape.Image(2, 3, 2), new Flatten(), batch);
        var x = GradientCheck.Uniform(batch * h.InSize, 142);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 143);
    }

    [Fact]
    public void Golden_layout_conversion_round_trips_and_matches_pytorch_chw_flatten()
    {
        // Sanity for the test helpers used by the network cases: NCHW → NHWC → NCHW is the identity,
        // and a (C,H,W)-flattened dense weight permuted to (H,W,C) rows gives the same product.
        var x = Enumerable.Range(0, 2 * 3 * 2 * 2).Select(i => (double)i).ToArray();
        var nhwc = GoldenCase.NchwToNhwc(x, 2, 3, 2, 2);
        Assert.Equal(x, GoldenCase.NhwcToNchw(nhwc, 2, 2, 2, 3));
        var wt = new GoldenTensor([2, 12], [.. Enumerable.Range(0, 24).Select(i => Math.Sin(i))]);
        var k = GoldenCase.FlattenedChwDenseWeightToKeras(wt, 3, 2, 2);
        for (int u = 0; u < 2; u++)
        {
            double torch = 0, ours = 0;
            for (int i = 0; i < 12; i++) torch += wt.Data[u * 12 + i] * x[i];
            for (int i = 0; i < 12; i++) ours += k.Data[i * 2 + u] * nhwc[i];
            Assert.Equal(torch, ours, 12);
        }
    }
}
