namespace Distributed.Engine.Layers;

/// <summary>
/// What a forward pass needs to know beyond its input: the mode, and for per-sample randomness
/// (dropout) the run seed, the epoch and the global dataset index of every row of the batch,
/// so that masks do not depend on which worker or thread computes the sample.
/// </summary>
public sealed class StepContext
{
    /// <summary>Training mode (dropout active, batch-norm on batch statistics).</summary>
    public bool Training { get; set; }

    /// <summary>Whether training-mode batch normalisation folds batch statistics into its running statistics.</summary>
    public bool UpdateRunningStatistics { get; set; } = true;

    /// <summary>Run seed.</summary>
    public ulong Seed { get; set; }

    /// <summary>Zero-based epoch.</summary>
    public int Epoch { get; set; }

    /// <summary>Global dataset index of each batch row; length ≥ batch while training with dropout.</summary>
    public int[] SampleIndices { get; set; } = [];

    /// <summary>An inference-mode context.</summary>
    public static StepContext Inference() => new() { Training = false };
}
