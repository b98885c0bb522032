using Distributed.Engine.Checkpoints;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Training;

namespace Distributed.Coordinator.Runs;

/// <summary>
/// A checkpoint's figures on the Fashion-MNIST test set, scaled as its run was (<c>evaluate</c> and the run report).
/// </summary>
/// <param name="Checkpoint">The loaded checkpoint.</param>
/// <param name="Model">Its model with its weights.</param>
/// <param name="Test">The test set, scaled.</param>
/// <param name="Result">Loss, top-1, top-5.</param>
/// <param name="Confusion">True class against prediction.</param>
public sealed record CheckpointEvaluation(Checkpoint Checkpoint, Sequential Model, Dataset Test, EvaluationResult Result, ConfusionMatrix Confusion)
{
    /// <summary>Loads the checkpoint at <paramref name="path"/> and evaluates it on the test set in <paramref name="dataDirectory"/> (null: the default lookup).</summary>
    public static CheckpointEvaluation Run(string path, string? dataDirectory)
    {
        var checkpoint = Checkpoint.Load(path);
        var model = checkpoint.BuildModel(path);
        var test = FashionMnist.Load(dataDirectory).Test;
        InputScaling.FromSettings(checkpoint.Header.Settings).Apply(test);
        var predictions = new int[test.Count];
        var result = Evaluation.Run(model, test, 256, predictions);
        return new CheckpointEvaluation(checkpoint, model, test, result, new ConfusionMatrix(test.Labels, predictions, test.NumClasses));
    }
}
