using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class BatchNormalizationTests
{
    private const float Momentum = 0.9f; // Keras momentum 0.9 = PyTorch momentum 0.1

    private sealed record Setup(GoldenCase G, LayerHarness H, BatchNormalization Layer, float[] X, int N);

    private static Setup Load(bool trainable = true)
    {
        var g = GoldenCase.Load("batchnorm_train");
        Assert.Equal("training", g.Config.GetProperty("mode").GetString());
        var x = GoldenCase.NchwToNhwc(g.Tensor("x"));
        int n = x.Shape[0];
        var layer = new BatchNormalization(Momentum, (float)g.ConfigDouble("epsilon")) { Trainable = trainable };
        var h = new LayerHarness(TensorShape.Image(x.Shape[1], x.Shape[2], x.Shape[3]), layer, n);
        h.SetParameter(0, g.Tensor("gamma").Data);
        h.SetParameter(1, g.Tensor("beta").Data);
        // The golden running statistics are the ones its inference output uses.
        var rm = g.Tensor("running_mean").Data;
        var rv = g.Tensor("running_var").Data;
        for (int c = 0; c < rm.Length; c++)
        {
            h.Model.State[layer.StateOffset + c] = (float)rm[c];
            h.Model.State[layer.StateOffset + rm.Length + c] = (float)rv[c];
        }
        return new Setup(g, h, layer, x.ToFloats(), n);
    }

    [Fact]
    public void Training_forward_and_backward_match_pytorch_golden()
    {
        var (g, h, layer, x, n) = Load();
        var y = h.Forward(x, n, new StepContext { Training = true });
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("y")).Data, y, what: "bn y (training)");
        GoldenCase.AssertClose(g.Tensor("batch_mean").Data, layer.BatchMean, what: "bn batch mean");
        GoldenCase.AssertClose(g.Tensor("batch_var_biased").Data, layer.BatchVariance, what: "bn batch variance (biased)");
        h.Model.Gradients.AsSpan().Fill(float.NaN);
        var dx = h.Backward(x, y, GoldenCase.NchwToNhwc(g.Tensor("grad_y")).ToFloats(), n);
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("grad_x")).Data, dx, what: "bn grad_x");
        GoldenCase.AssertClose(g.Tensor("grad_gamma").Data, h.Gradient(0), what: "bn grad_gamma");
        GoldenCase.AssertClose(g.Tensor("grad_beta").Data, h.Gradient(1), what: "bn grad_beta");
    }

    [Fact]
    public void Training_folds_the_batch_statistics_into_the_running_statistics_keras_style()
    {
        var (g, h, layer, x, n) = Load();
        var rm0 = g.Tensor("running_mean").Data;
        var rv0 = g.Tensor("running_var").Data;
        h.Forward(x, n, new StepContext { Training = true, UpdateRunningStatistics = true });
        var mean = g.Tensor("batch_mean").Data;
        // PyTorch folds the UNBIASED batch variance (batch_var_unbiased) into running_var; the engine
        // follows Keras and folds the BIASED one, so running_var is checked against the formula with
        // batch_var_biased: running = momentum · running + (1 − momentum) · batch.
        var biased = g.Tensor("batch_var_biased").Data;
        int c = rm0.Length;
        var expectedMean = Enumerable.Range(0, c).Select(i => Momentum * rm0[i] + (1 - Momentum) * mean[i]).ToArray();
        var expectedVar = Enumerable.Range(0, c).Select(i => Momentum * rv0[i] + (1 - Momentum) * biased[i]).ToArray();
        GoldenCase.AssertClose(expectedMean, h.Model.State.AsSpan(layer.StateOffset, c), 1e-5, 1e-6, "moving_mean");
        GoldenCase.AssertClose(expectedVar, h.Model.State.AsSpan(layer.StateOffset + c, c), 1e-5, 1e-6, "moving_variance");
    }

    [Fact]
    public void Training_without_running_statistics_update_leaves_the_state_unchanged()
    {
        var (_, h, _, x, n) = Load();
        var before = h.Model.State.ToArray();
        h.Forward(x, n, new StepContext { Training = true, UpdateRunningStatistics = false });
        Assert.Equal(before, h.Model.State);
    }

    [Fact]
    public void Inference_forward_matches_pytorch_golden_with_running_statistics()
    {
        var (g, h, _, x, n) = Load();
        var before = h.Model.State.ToArray();
        var y = h.Forward(x, n, StepContext.Inference());
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("y_inference")).Data, y, what: "bn y (inference)");
        Assert.Equal(before, h.Model.State);
    }

    [Fact]
    public void Frozen_layer_runs_in_inference_mode_and_leaves_its_gradient_span_untouched()
    {
        var (g, h, layer, x, n) = Load(trainable: false);
        var stateBefore = h.Model.State.ToArray();
        h.Model.Gradients.AsSpan().Fill(42f);
        var y = h.Forward(x, n, new StepContext { Training = true, UpdateRunningStatistics = true });
        GoldenCase.AssertClose(GoldenCase.NchwToNhwc(g.Tensor("y_inference")).Data, y, what: "frozen bn y");
        Assert.Equal(stateBefore, h.Model.State);
        var dy = GoldenCase.NchwToNhwc(g.Tensor("grad_y")).ToFloats();
        var dx = h.Backward(x, y, dy, n);
        Assert.All(h.Model.Gradients, v => Assert.Equal(42f, v));
        // Inference-mode backward is the per-channel affine map: dx = dy · γ / sqrt(var + ε).
        var gamma = g.Tensor("gamma").Data;
        var rv = g.Tensor("running_var").Data;
        int c = gamma.Length;
        var expected = dy.Select((v, i) => v * gamma[i % c] / Math.Sqrt(rv[i % c] + layer.Epsilon)).ToArray();
        GoldenCase.AssertClose(expected, dx, what: "frozen bn dx");
    }

    /// <summary>
    /// A trainable layer run in inference mode (moving statistics, e.g. ComputeGradients with
    /// Training = false) is still trainable: as in Keras (training=False), backward must write
    /// dγ = Σ dy·(x − moving_mean)/sqrt(moving_var + ε) and dβ = Σ dy, per the Layer.Backward
    /// contract ("overwrites this layer's parameter gradients when it is trainable").
    /// </summary>
    [Fact]
    public void Inference_mode_backward_of_a_trainable_layer_writes_gamma_and_beta_gradients()
    {
        var (g, h, layer, x, n) = Load();
        var y = h.Forward(x, n, StepContext.Inference());
        var dy = GoldenCase.NchwToNhwc(g.Tensor("grad_y")).ToFloats();
        h.Model.Gradients.AsSpan().Fill(float.NaN);
        h.Backward(x, y, dy, n);
        var rm = g.Tensor("running_mean").Data;
        var rv = g.Tensor("running_var").Data;
        int c = rm.Length;
        var dGamma = new double[c];
        var dBeta = new double[c];
        for (int i = 0; i < dy.Length; i++)
        {
            int ch = i % c;
            dGamma[ch] += dy[i] * (x[i] - rm[ch]) / Math.Sqrt(rv[ch] + layer.Epsilon);
            dBeta[ch] += dy[i];
        }
        GoldenCase.AssertClose(dGamma, h.Gradient(0), what: "inference-mode bn grad_gamma");
        GoldenCase.AssertClose(dBeta, h.Gradient(1), what: "inference-mode bn grad_beta");
    }

    [Fact]
    public void Backward_matches_finite_differences_in_training_mode_for_images()
    {
        const int batch = 2;
        var layer = new BatchNormalization(0.9f, 1e-3f);
        var h = new LayerHarness(TensorShape.Image(3, 3, 2), layer, batch);
        h.SetParameter(0, [1.3, 0.7]);
        h.SetParameter(1, [0.2, -0.4]);
        var x = GradientCheck.Uniform(batch * h.InSize, 181, -1, 2);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, LayerHarness.Training(batch), seed: 182);
    }

    [Fact]
    public void Backward_matches_finite_differences_in_training_mode_for_vectors()
    {
        const int batch = 5;
        var layer = new BatchNormalization(0.9f, 1e-3f);
        var h = new LayerHarness(TensorShape.Vector(4), layer, batch);
        h.SetParameter(0, [1.3, 0.7, -0.5, 1.0]);
        h.SetParameter(1, [0.2, -0.4, 0.1, 0.0]);
        var x = GradientCheck.Uniform(batch * h.InSize, 183, -2, 2);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, LayerHarness.Training(batch), seed: 184);
    }
}
