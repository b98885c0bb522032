namespace Distributed.Engine.Optimizers;

/// <summary>
/// Hyper-parameters of SGD. Defaults are Keras's: learning rate 0.01, no momentum, no decay.
/// </summary>
/// <param name="LearningRate">Base learning rate η.</param>
/// <param name="Momentum">Momentum μ in [0, 1).</param>
/// <param name="Nesterov">Nesterov momentum.</param>
/// <param name="WeightDecay">L2 coefficient wd: the step uses g + wd·w (torch.optim.SGD's rule; the seed's λ/m).</param>
/// <param name="Decay">Keras 2's learning-rate decay: η_t = η / (1 + decay · t), t = iterations done.</param>
/// <param name="StepEpochs">Step schedule: multiply the rate by <paramref name="StepGamma"/> every this many epochs; 0 turns it off.</param>
/// <param name="StepGamma">Step schedule factor.</param>
public sealed record SgdOptions(
    float LearningRate = 0.01f,
    float Momentum = 0f,
    bool Nesterov = false,
    float WeightDecay = 0f,
    float Decay = 0f,
    int StepEpochs = 0,
    float StepGamma = 0.1f)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (!(LearningRate > 0f) || !float.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "learning rate must be a positive finite number");
        if (!(Momentum >= 0f && Momentum < 1f)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "momentum must be in [0, 1)");
        if (Nesterov && Momentum == 0f) throw new ArgumentOutOfRangeException(nameof(Nesterov), Nesterov, "Nesterov momentum needs momentum > 0");
        if (!(WeightDecay >= 0f) || !float.IsFinite(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "weight decay must be ≥ 0");
        if (!(Decay >= 0f) || !float.IsFinite(Decay)) throw new ArgumentOutOfRangeException(nameof(Decay), Decay, "learning-rate decay must be ≥ 0");
        if (StepEpochs < 0) throw new ArgumentOutOfRangeException(nameof(StepEpochs), StepEpochs, "step schedule epochs must be ≥ 0");
        if (!(StepGamma > 0f && StepGamma <= 1f)) throw new ArgumentOutOfRangeException(nameof(StepGamma), StepGamma, "step schedule factor must be in (0, 1]");
    }
}
