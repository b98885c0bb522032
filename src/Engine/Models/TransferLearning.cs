using Distributed.Engine.Checkpoints;

namespace Distributed.Engine.Models;

/// <summary>
/// Initialising a model from a checkpoint of a related one: every leading layer whose type,
/// output and parameter shapes match is copied; the rest (typically a classifier head for a
/// new class count) keeps its fresh initialisation.
/// </summary>
public static class TransferLearning
{
    /// <summary>Copies the matching leading layers; returns how many were copied.</summary>
    /// <exception cref="CheckpointException">No layer matches, or the checkpoint's spec is invalid.</exception>
    public static int InitializeFrom(Sequential target, Checkpoint checkpoint, string source)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(checkpoint);
        var pretrained = checkpoint.BuildModel(source);
        int matching = 0;
        while (matching < target.Layers.Count && matching < pretrained.Layers.Count && SameShape(target.Layers[matching], pretrained.Layers[matching]))
            matching++;
        if (matching == 0) throw new CheckpointException($"{source}: no layer of the checkpoint's model matches this model's first layer");
        target.CopyWeightsFrom(pretrained, matching);
        return matching;
    }

    private static bool SameShape(Layers.Layer a, Layers.Layer b) =>
        a.TypeName == b.TypeName && a.InputShape == b.InputShape && a.OutputShape == b.OutputShape &&
        a.ParameterCount == b.ParameterCount && a.StateCount == b.StateCount;
}
