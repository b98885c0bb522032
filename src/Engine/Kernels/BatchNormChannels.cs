namespace Distributed.Engine.Kernels;

/// <summary>
/// The per-channel operands of <see cref="BatchNormKernels"/>: batch mean and 1/σ, γ and β (each
/// <c>C</c> float32), and the activation fused after the layer, if any: min(max(y, 0), <see cref="Cap"/>),
/// with a cap of +∞ for a plain ReLU.
/// </summary>
internal readonly unsafe struct BatchNormChannels(float* mean, float* invStd, float* gamma, float* beta, int c, bool activated, float cap)
{
    public readonly float* Mean = mean, InvStd = invStd, Gamma = gamma, Beta = beta;
    public readonly int C = c;
    public readonly bool Activated = activated;
    public readonly float Cap = cap;
}
