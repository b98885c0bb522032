using System.Numerics.Tensors;
using Distributed.Engine.Kernels;
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
    /// the gradients first (1 when they are already a mean). Element-wise, so any number of
    /// <paramref name="threads"/> gives the same bits.
    /// </summary>
    public unsafe void Step(Span<float> weights, ReadOnlySpan<float> gradients, Span<float> velocity,
        IReadOnlyList<ParameterSegment> segments, float learningRate, float gradientScale = 1f, int threads = 1)
    {
        if (gradients.Length != weights.Length || velocity.Length != weights.Length)
            throw new ArgumentException($"weights ({weights.Length}), gradients ({gradients.Length}) and velocity ({velocity.Length}) must have the same length");
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        fixed (float* pw = weights, pg = gradients, pv = velocity)
        {
            // An index loop: foreach over the interface would allocate an enumerator every step.
            for (int k = 0; k < segments.Count; k++)
            {
                var seg = segments[k];
                _job.Set(this, pw + seg.Offset, pg + seg.Offset, pv + seg.Offset, seg.Length, learningRate, gradientScale);
                int blocks = (seg.Length + BlockFloats - 1) / BlockFloats;
                ParallelJobs.Run(_job, seg.Length < MinParallel ? 1 : Math.Min(threads, blocks));
            }
        }
    }

    // Blocks small enough that each one's five passes run in L1; below MinParallel one thread is faster.
    private const int BlockFloats = 1024;
    private const int MinParallel = 1 << 16;

    private readonly Job _job = new();

    private void StepBlock(Span<float> w, ReadOnlySpan<float> g, Span<float> v, Span<float> d, float learningRate, float gradientScale)
    {
        float mu = Options.Momentum, wd = Options.WeightDecay;
        TensorPrimitives.Multiply(g, gradientScale, d);                      // d = s·g
        if (wd != 0f) TensorPrimitives.MultiplyAdd(w, wd, d, d);             // d += wd·w
        if (mu == 0f)
        {
            TensorPrimitives.MultiplyAdd(d, -learningRate, w, w);            // w -= η·d
            return;
        }
        TensorPrimitives.MultiplyAdd(v, mu, d, v);                           // v = μ·v + d
        if (Options.Nesterov)
        {
            TensorPrimitives.MultiplyAdd(v, mu, d, d);                       // d = d + μ·v
            TensorPrimitives.MultiplyAdd(d, -learningRate, w, w);            // w -= η·d
        }
        else TensorPrimitives.MultiplyAdd(v, -learningRate, w, w);           // w -= η·v
    }

    // One segment's step, runs of whole blocks per part.
    private sealed unsafe class Job : IParallelJob
    {
        private Sgd _sgd = null!;
        private float* _w, _g, _v;
        private int _n;
        private float _learningRate, _gradientScale;

        public void Set(Sgd sgd, float* w, float* g, float* v, int n, float learningRate, float gradientScale)
        {
            _sgd = sgd; _w = w; _g = g; _v = v; _n = n; _learningRate = learningRate; _gradientScale = gradientScale;
        }

        public void RunPart(int part, int parts)
        {
            Span<float> d = stackalloc float[BlockFloats];
            int blocks = (_n + BlockFloats - 1) / BlockFloats;
            for (int b = ParallelJobs.Start(blocks, part, parts), end = ParallelJobs.Start(blocks, part + 1, parts); b < end; b++)
            {
                int i = b * BlockFloats, n = Math.Min(BlockFloats, _n - i);
                _sgd.StepBlock(new Span<float>(_w + i, n), new ReadOnlySpan<float>(_g + i, n), new Span<float>(_v + i, n), d.Slice(0, n), _learningRate, _gradientScale);
            }
        }
    }
}
