namespace Distributed.Engine.Training;

/// <summary>Options of <see cref="Trainer.Fit"/>, named as Keras names them.</summary>
/// <param name="BatchSize">Samples per iteration (the last batch of an epoch may be smaller).</param>
/// <param name="Epochs">Passes over the training part.</param>
/// <param name="ValidationSplit">Fraction in [0, 1) held out from the end of the data, before shuffling (Keras's rule).</param>
/// <param name="Seed">Seeds the per-epoch shuffle and dropout masks.</param>
/// <param name="Shuffle">Shuffle the training part each epoch.</param>
/// <param name="InitialEpoch">Epoch to start from (when resuming).</param>
public sealed record FitOptions(int BatchSize = 32, int Epochs = 1, double ValidationSplit = 0, ulong Seed = 0, bool Shuffle = true, int InitialEpoch = 0)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch size must be positive");
        if (Epochs <= 0) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "epochs must be positive");
        if (!(ValidationSplit >= 0 && ValidationSplit < 1)) throw new ArgumentOutOfRangeException(nameof(ValidationSplit), ValidationSplit, "validation split must be in [0, 1)");
        if (InitialEpoch < 0 || InitialEpoch >= Epochs) throw new ArgumentOutOfRangeException(nameof(InitialEpoch), InitialEpoch, "initial epoch must be in [0, epochs)");
    }

    /// <summary>Samples used for training out of <paramref name="total"/>: ⌊total · (1 − split)⌋, as Keras computes it.</summary>
    public int TrainCount(int total) => (int)(total * (1.0 - ValidationSplit));
}
