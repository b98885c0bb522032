namespace Distributed.Engine.Losses;

/// <summary>
/// Softmax and the fused, numerically stable softmax + cross-entropy loss over integer labels.
/// log pᵢ = zᵢ − max(z) − log Σ exp(zⱼ − max(z)); the gradient with respect to the logits is
/// (p − onehot) · scale, where scale is 1/N for the batch mean or 1 for the sum over samples.
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>p = softmax(z) for one row, shifting by the maximum first.</summary>
    public static void Softmax(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(logits);
        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float e = MathF.Exp(logits[i] - max);
            probabilities[i] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < logits.Length; i++) probabilities[i] *= inv;
    }

    /// <summary>
    /// Loss and gradient for a batch. logits and dLogits are <c>(N, classes)</c>; returns the
    /// <b>sum</b> of per-sample losses and the number of top-1 hits. dLogits = (p − onehot) · gradScale.
    /// </summary>
    public static (double LossSum, int Correct) Forward(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int batch, int classes, Span<float> dLogits, float gradScale)
    {
        double lossSum = 0;
        int correct = 0;
        for (int s = 0; s < batch; s++)
        {
            var z = logits.Slice(s * classes, classes);
            var g = dLogits.Slice(s * classes, classes);
            int label = labels[s];
            if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {label} of row {s} is outside [0, {classes})");
            float max = float.NegativeInfinity;
            int argmax = 0;
            for (int i = 0; i < classes; i++) if (z[i] > max) { max = z[i]; argmax = i; }
            double sum = 0;
            for (int i = 0; i < classes; i++) sum += Math.Exp(z[i] - max);
            double logSum = Math.Log(sum);
            lossSum += logSum - (z[label] - max);
            for (int i = 0; i < classes; i++) g[i] = (float)(Math.Exp(z[i] - max - logSum) * gradScale);
            g[label] -= gradScale;
            if (argmax == label) correct++;
        }
        return (lossSum, correct);
    }

    /// <summary>Cross-entropy −log p[label] of a probability vector, e.g. (0.97, 0.02, 0.01) against 0 → 0.0305.</summary>
    public static double CrossEntropy(ReadOnlySpan<float> probabilities, int label) => -Math.Log(probabilities[label]);
}
