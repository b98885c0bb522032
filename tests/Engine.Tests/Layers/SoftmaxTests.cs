using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class SoftmaxTests
{
    [Fact]
    public void Forward_matches_pytorch_golden_probabilities_and_backward_the_softmax_jacobian()
    {
        var g = GoldenCase.Load("softmax_cross_entropy");
        var logits = g.Tensor("logits");
        int n = logits.Shape[0], classes = logits.Shape[1];
        var h = new LayerHarness(TensorShape.Vector(classes), new Softmax(), n);
        var x = logits.ToFloats();
        var y = h.Forward(x, n, StepContext.Inference());
        var p = g.Tensor("probabilities").Data;
        GoldenCase.AssertClose(p, y, what: "softmax probabilities");

        // dx = p ⊙ (dy − ⟨p, dy⟩), computed in double from the golden probabilities.
        var dy = GradientCheck.Uniform(n * classes, 191);
        var dx = h.Backward(x, y, dy, n);
        var expected = new double[n * classes];
        for (int s = 0; s < n; s++)
        {
            double dot = 0;
            for (int i = 0; i < classes; i++) dot += p[s * classes + i] * dy[s * classes + i];
            for (int i = 0; i < classes; i++) expected[s * classes + i] = p[s * classes + i] * (dy[s * classes + i] - dot);
        }
        GoldenCase.AssertClose(expected, dx, what: "softmax dx");
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int batch = 3;
        var h = new LayerHarness(TensorShape.Vector(5), new Softmax(), batch);
        var x = GradientCheck.Uniform(batch * 5, 192, -2, 2);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, StepContext.Inference(), seed: 193, eps: 1e-2f);
    }

    [Fact]
    public void Final_softmax_is_fused_into_the_loss_and_gives_the_same_gradients_as_logits()
    {
        const int batch = 4, features = 6, classes = 3;
        var withSoftmax = new Sequential(TensorShape.Vector(features), [new Dense(classes), new Softmax()]);
        var logitsOnly = new Sequential(TensorShape.Vector(features), [new Dense(classes)]);
        Assert.True(withSoftmax.EndsWithSoftmax);
        withSoftmax.InitializeWeights(5);
        withSoftmax.Weights.CopyTo(logitsOnly.Weights, 0);
        var x = GradientCheck.Uniform(batch * features, 194);
        int[] labels = [0, 2, 1, 2];
        var ctx = new StepContext { Training = true };
        var a = withSoftmax.ComputeGradients(x, labels, batch, ctx, 1f / batch);
        var b = logitsOnly.ComputeGradients(x, labels, batch, ctx, 1f / batch);
        Assert.Equal(b.LossSum, a.LossSum, 12);
        Assert.Equal(b.Correct, a.Correct);
        Assert.Equal(logitsOnly.Gradients, withSoftmax.Gradients);
        // Forward of the softmax model returns probabilities.
        var probs = withSoftmax.Forward(x, batch, StepContext.Inference()).ToArray();
        for (int s = 0; s < batch; s++) Assert.Equal(1.0, probs.AsSpan(s * classes, classes).ToArray().Sum(v => (double)v), 5);
    }
}
