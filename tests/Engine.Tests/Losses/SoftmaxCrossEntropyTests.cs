using Distributed.Engine.Losses;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Losses;

public sealed class SoftmaxCrossEntropyTests
{
    [Fact]
    public void Loss_probabilities_and_gradient_match_pytorch_golden_mean_reduction()
    {
        var g = GoldenCase.Load("softmax_cross_entropy");
        Assert.Equal("mean", g.Config.GetProperty("reduction").GetString());
        var logits = g.Tensor("logits");
        int n = logits.Shape[0], classes = logits.Shape[1];
        int[] labels = g.Ints("labels");
        var z = logits.ToFloats();
        var dz = new float[z.Length];
        var (lossSum, correct) = SoftmaxCrossEntropy.Forward(z, labels, n, classes, dz, 1f / n);
        Assert.True(Math.Abs(lossSum / n - g.Scalar("loss")) <= 1e-5 + 1e-4 * g.Scalar("loss"), $"mean loss: expected {g.Scalar("loss")}, got {lossSum / n}");
        GoldenCase.AssertClose(g.Tensor("grad_logits").Data, dz, what: "dL/dlogits (mean)");

        int expectedCorrect = 0;
        for (int s = 0; s < n; s++)
        {
            var row = logits.Data.AsSpan(s * classes, classes).ToArray();
            if (Array.IndexOf(row, row.Max()) == labels[s]) expectedCorrect++;
        }
        Assert.Equal(expectedCorrect, correct);

        var p = new float[z.Length];
        for (int s = 0; s < n; s++) SoftmaxCrossEntropy.Softmax(z.AsSpan(s * classes, classes), p.AsSpan(s * classes, classes));
        GoldenCase.AssertClose(g.Tensor("probabilities").Data, p, what: "softmax probabilities");
    }

    [Fact]
    public void Gradient_with_scale_one_is_the_gradient_of_the_loss_sum()
    {
        var g = GoldenCase.Load("softmax_cross_entropy");
        var logits = g.Tensor("logits");
        int n = logits.Shape[0], classes = logits.Shape[1];
        var dz = new float[logits.Size];
        SoftmaxCrossEntropy.Forward(logits.ToFloats(), g.Ints("labels"), n, classes, dz, 1f);
        GoldenCase.AssertClose(g.Tensor("grad_logits").Data.Select(v => v * n).ToArray(), dz, what: "dL/dlogits (sum)");
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int batch = 3, classes = 5;
        var z = GradientCheck.Uniform(batch * classes, 201, -3, 3);
        int[] labels = [4, 0, 2];
        var dz = new float[z.Length];
        SoftmaxCrossEntropy.Forward(z, labels, batch, classes, dz, 1f / batch);
        var numeric = new double[z.Length];
        var scratch = new float[z.Length];
        for (int i = 0; i < z.Length; i++)
        {
            float orig = z[i], eps = 1e-2f;
            z[i] = orig + eps;
            double lp = SoftmaxCrossEntropy.Forward(z, labels, batch, classes, scratch, 1f).LossSum / batch;
            z[i] = orig - eps;
            double lm = SoftmaxCrossEntropy.Forward(z, labels, batch, classes, scratch, 1f).LossSum / batch;
            z[i] = orig;
            numeric[i] = (lp - lm) / ((double)(orig + eps) - (orig - eps));
        }
        GradientCheck.Compare(dz, numeric, 1e-3, "dL/dlogits");
    }

    [Fact]
    public void Is_stable_for_large_logits()
    {
        float[] z = [1000f, 0f, -1000f];
        var dz = new float[3];
        var (loss, correct) = SoftmaxCrossEntropy.Forward(z, [1], 1, 3, dz, 1f);
        Assert.Equal(1000.0, loss, 6);
        Assert.Equal(0, correct);
        Assert.Equal([1f, -1f, 0f], dz);
        var p = new float[3];
        SoftmaxCrossEntropy.Softmax(z, p);
        Assert.Equal([1f, 0f, 0f], p);
    }

    [Fact]
    public void Rejects_a_label_outside_the_classes()
    {
        var dz = new float[3];
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Forward([0f, 1f, 2f], [3], 1, 3, dz, 1f));
    }
}
