using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;
using Distributed.Messages.Protocol;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>The committed slice and the small models and plans the cluster tests train.</summary>
internal static class TestPlans
{
    private static readonly Lazy<FashionMnistData> Slice = new(() => FashionMnist.Load(Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-slice")));

    public static FashionMnistData Data => Slice.Value;

    /// <summary>A BN-free small CNN with dropout, so per-sample masks are covered too.</summary>
    public const string SmallCnn = """
        {"input_shape": [28, 28, 1], "layers": [
          {"class_name": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
          {"class_name": "MaxPooling2D", "pool_size": 2},
          {"class_name": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"},
          {"class_name": "Flatten"},
          {"class_name": "Dropout", "rate": 0.25},
          {"class_name": "Dense", "units": 16, "activation": "relu"},
          {"class_name": "Dense", "units": 10}]}
        """;

    public static ModelSpec Spec(string model) => model == "small-cnn" ? ModelSpec.Parse(SmallCnn) : BuiltInModels.Get(model);

    public static readonly SgdOptions Optimizer = new(LearningRate: 0.05f, Momentum: 0.9f, WeightDecay: 5e-4f);

    /// <summary>The weights single-process training reaches on the first <paramref name="samples"/> of the slice (seed 7, one epoch, no validation).</summary>
    public static float[] SingleProcessWeights(string model, int batch, int samples, float inputMean = 0f, float inputStd = 1f)
    {
        var reference = Spec(model).Build();
        reference.InitializeWeights(7);
        var trainer = new Trainer(reference, new Sgd(Optimizer));
        var data = Data.Train.Slice(0, samples);
        if (inputMean != 0f || inputStd != 1f) data.Standardize(inputMean, inputStd);
        trainer.Fit(data, new FitOptions(BatchSize: batch, Epochs: 1, ValidationSplit: 0, Seed: 7));
        return reference.Weights;
    }

    /// <summary>
    /// Asserts that every weight is within <paramref name="tolerance"/> of the expected one, relative to
    /// max(|expected|, 0.01), naming the first that is not; returns the largest relative difference.
    /// </summary>
    public static double AssertClose(float[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]) / Math.Max(Math.Abs(expected[i]), 1e-2);
            worst = Math.Max(worst, error);
            Assert.True(error <= tolerance, $"weight {i}: expected {expected[i]}, got {actual[i]} (relative error {error:E2})");
        }
        return worst;
    }

    public static RunPlan Plan(string model, int trainCount, int batch, int microShard, int epochs = 1, ulong seed = 7,
        float inputMean = 0f, float inputStd = 1f) => new(
        $"test-{Guid.NewGuid():N}", Spec(model).ToJson(indented: false), Data.Fingerprint, seed, epochs, batch, microShard,
        ValidationSplit: 0, trainCount, Optimizer.LearningRate, Optimizer.Momentum, Optimizer.Nesterov, Optimizer.WeightDecay,
        Optimizer.Decay, Optimizer.StepEpochs, Optimizer.StepGamma, inputMean, inputStd);
}
