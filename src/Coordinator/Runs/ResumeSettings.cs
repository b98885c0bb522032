namespace Distributed.Coordinator.Runs;

/// <summary>Checkpoint settings keys that let a resumed run report the epoch it was cut in as a whole.</summary>
public static class ResumeSettings
{
    /// <summary>Training samples of the current epoch before the checkpoint.</summary>
    public const string EpochSamples = "epoch_samples";

    /// <summary>Their top-1 hits.</summary>
    public const string EpochCorrect = "epoch_correct";

    /// <summary>Their loss sum (round-trip format).</summary>
    public const string EpochLossSum = "epoch_loss_sum";
}
