using Distributed.Engine.Checkpoints;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;
using Xunit.Abstractions;

namespace Distributed.Engine.Tests.Models;

/// <summary>
/// The seed's three transfer-learning cases on the committed slice: pre-train on classes 0–4,
/// then learn classes 5–9 from 500 images (tiny: head only; small: the last conv block too;
/// large: everything, initialised from the checkpoint), against the same network from scratch.
/// </summary>
public sealed class TransferLearningTests(ITestOutputHelper output) : IDisposable
{
    private const string Spec = """
        {"input_shape": [28, 28, 1], "layers": [
          {"class_name": "Conv2D", "filters": 16, "kernel_size": 3, "activation": "relu"},
          {"class_name": "MaxPooling2D", "pool_size": 2},
          {"class_name": "Conv2D", "filters": 32, "kernel_size": 3, "activation": "relu"},
          {"class_name": "MaxPooling2D", "pool_size": 2},
          {"class_name": "Flatten"},
          {"class_name": "Dense", "units": 64, "activation": "relu"},
          {"class_name": "Dense", "units": 5}]}
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "transfer-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static Dataset FirstFive(Dataset d) => d.WhereLabel(l => l < 5, l => l, 5);
    private static Dataset LastFive(Dataset d) => d.WhereLabel(l => l >= 5, l => l - 5, 5);

    private static double Train(Sequential model, Dataset data, Dataset test, int epochs, float lr)
    {
        var trainer = new Trainer(model, new Sgd(new SgdOptions(LearningRate: lr, Momentum: 0.9f)));
        trainer.Fit(data, new FitOptions(BatchSize: 32, Epochs: epochs, Seed: 11));
        return trainer.Evaluate(test).Top1;
    }

    [Fact]
    public void Pretrained_features_transfer_to_new_classes_in_the_three_seed_cases()
    {
        var spec = ModelSpec.Parse(Spec);
        var pretrained = spec.Build();
        pretrained.InitializeWeights(5);
        double sourceAccuracy = Train(pretrained, FirstFive(TestData.Train), FirstFive(TestData.Test), epochs: 4, lr: 0.02f);
        string path = Path.Combine(_dir, "pretrained.ckpt");
        Checkpoint.Capture(pretrained, spec.ToJson(false), null, 4, 0).Save(path);

        var tiny = LastFive(TestData.Train).Slice(0, 500);
        var test = LastFive(TestData.Test);

        Sequential FromCheckpoint()
        {
            var m = spec.Build();
            m.InitializeWeights(6);
            Assert.Equal(7, TransferLearning.InitializeFrom(m, Checkpoint.Load(path), path));
            return m;
        }

        // Tiny dataset: only the head learns.
        var headOnly = FromCheckpoint();
        headOnly.FreezeUpTo(5);
        var frozenBefore = headOnly.Weights.AsSpan(0, headOnly.Layers[6].ParameterOffset).ToArray();
        double tinyAccuracy = Train(headOnly, tiny, test, epochs: 6, lr: 0.02f);
        Assert.Equal(frozenBefore, headOnly.Weights.AsSpan(0, headOnly.Layers[6].ParameterOffset).ToArray());

        // Small dataset: the last conv block and the dense layers learn too.
        var lastBlocks = FromCheckpoint();
        lastBlocks.FreezeUpTo(1);
        double smallAccuracy = Train(lastBlocks, tiny, test, epochs: 6, lr: 0.02f);

        // Large dataset: everything learns, starting from the checkpoint.
        var all = FromCheckpoint();
        double allAccuracy = Train(all, tiny, test, epochs: 6, lr: 0.02f);

        var scratch = spec.Build();
        scratch.InitializeWeights(6);
        double scratchAccuracy = Train(scratch, tiny, test, epochs: 6, lr: 0.02f);

        output.WriteLine($"pre-training on classes 0-4: {sourceAccuracy:F3}; classes 5-9 from {tiny.Count} images, test on {test.Count}:");
        output.WriteLine($"  head only {tinyAccuracy:F3}, last block + head {smallAccuracy:F3}, all from checkpoint {allAccuracy:F3}, from scratch {scratchAccuracy:F3}");
        Assert.True(sourceAccuracy > 0.6, $"pre-training reached only {sourceAccuracy:F3}");
        foreach (var (name, accuracy) in new[] { ("head only", tinyAccuracy), ("last block", smallAccuracy), ("all", allAccuracy), ("scratch", scratchAccuracy) })
            Assert.True(accuracy > 0.5, $"{name}: {accuracy:F3} is not far above chance (0.2)");
    }
}
