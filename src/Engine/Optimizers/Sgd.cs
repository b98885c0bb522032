using System.Numerics.Tensors;
using Distributed.Engine.Models;

namespace Distributed.Engine.Optimizers;

/// <summary>
/// Stochastic gradient descent on the flat parameter vector, torch.optim.SGD's rule
/// (dampening 0), which the parameter server reuses unchanged:
/// <code>
/// d = s·g + wd·w          (s scales a gradient sum to a mean: 1/n)
/// v = μ·v + d             (v starts at zero, so v = d on the first step)
/// d = nesterov ? d + μ·v : v
/// w = w − η_t·d
/// </code>
/// with η_t = η / (1 + decay·t) · γ^⌊epoch / stepEpochs⌋ (Keras 2's decay, t = iterations done).
/// Only the given segments (trainable layers) are touched.
/// </summary>
public sealed class Sgd
{
    // Scratch for the step direction, grown once to the largest segment.
    private float[] _scratch = [];

    /// <summary>Creates the optimiser; throws if an option is out of range.</summary>
    public Sgd(SgdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    /// <summary>The hyper-parameters.</summary>
    public SgdOptions Options { get; }

    /// <summary>The learning rate for the step after <paramref name="iteration"/> completed steps, in epoch <paramref name="epoch"/> (zero-based).</summary>
    public float LearningRateAt(long iteration, int epoch)
    {
        double lr = Options.LearningRate / (1.0 + Options.Decay * (double)iteration);
        if (Options.StepEpochs > 0) lr *= Math.Pow(Options.StepGamma, epoch / Options.StepEpochs);
        return (float)lr;
    }

    /// <summary>
    /// Applies one step in place. <paramref name="weights"/>, <paramref name="gradients"/> and
    /// <paramref name="velocity"/> share the flat layout; <paramref name="gradientScale"/> multiplies
    /// the gradients first (1 when they are already a mean).
    /// </summary>
    public void Step(Span<float> weights, ReadOnlySpan<float> gradients, Span<float> velocity,
        IReadOnlyList<ParameterSegment> segments, float learningRate, float gradientScale = 1f)
    {
        if (gradients.Length != weights.Length || velocity.Length != weights.Length)
            throw new ArgumentException($"weights ({weights.Length}), gradients ({gradients.Length}) and velocity ({velocity.Length}) must have the same length");
        float mu = Options.Momentum, wd = Options.WeightDecay;
        // An index loop: foreach over the interface would allocate an enumerator every step.
        for (int k = 0; k < segments.Count; k++)
        {
            var seg = segments[k];
            var w = weights.Slice(seg.Offset, seg.Length);
            var g = gradients.Slice(seg.Offset, seg.Length);
            var v = velocity.Slice(seg.Offset, seg.Length);
            if (_scratch.Length < seg.Length) _scratch = new float[seg.Length];
            var d = _scratch.AsSpan(0, seg.Length);
            TensorPrimitives.Multiply(g, gradientScale, d);                      // d = s·g
            if (wd != 0f) TensorPrimitives.MultiplyAdd(w, wd, d, d);             // d += wd·w
            if (mu == 0f)
            {
                TensorPrimitives.MultiplyAdd(d, -learningRate, w, w);            // w -= η·d
                continue;
            }
            TensorPrimitives.MultiplyAdd(v, mu, d, v);                           // v = μ·v + d
            if (Options.Nesterov)
            {
                TensorPrimitives.MultiplyAdd(v, mu, d, d);                       // d = d + μ·v
                TensorPrimitives.MultiplyAdd(d, -learningRate, w, w);            // w -= η·d
            }
            else TensorPrimitives.MultiplyAdd(v, -learningRate, w, w);           // w -= η·v
        }
    }
}
