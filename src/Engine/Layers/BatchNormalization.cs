using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Batch normalisation over the last (channel) axis (Keras <c>BatchNormalization</c>), for
/// image <c>(N, H, W, C)</c> or vector <c>(N, C)</c> inputs. Parameters gamma, beta <c>(C)</c>;
/// state moving_mean, moving_variance <c>(C)</c>.
/// Convention (Keras's): running = momentum · running + (1 − momentum) · batch, with the
/// biased batch variance; defaults momentum 0.99, epsilon 1e-3. PyTorch's momentum m
/// corresponds to Keras momentum 1 − m (and PyTorch folds in the unbiased variance).
/// As in Keras, a frozen layer (<see cref="Layer.Trainable"/> false) runs in inference mode.
/// Training-mode forward saves the batch mean and 1/σ per channel for backward, which recomputes x̂ from x.
/// Inside a <see cref="Models.Sequential"/> a ReLU right after the layer is fused into it
/// (<see cref="FusedActivationCap"/>), with the same results.
/// </summary>
public sealed class BatchNormalization : Layer
{
    // Training mode normalises with the batch's own statistics, which mix every sample of the batch.
    internal override bool SamplesIndependent => false;

    private float[] _invStd = [];
    private float[] _shift = [];
    private double[] _sum = [];
    private double[] _sumSq = [];
    private double[] _partial = [];
    private double[] _partialSq = [];
    private bool _usedBatchStatistics;
    private readonly Job _job = new();

    /// <summary>Creates a batch-normalisation layer.</summary>
    public BatchNormalization(float momentum = 0.99f, float epsilon = 1e-3f, string? name = null) : base(name)
    {
        if (!(momentum >= 0f && momentum <= 1f)) throw new ModelBuildException($"{name ?? "batch_normalization"} (BatchNormalization): momentum must be in [0, 1], got {momentum}");
        if (!(epsilon > 0f)) throw new ModelBuildException($"{name ?? "batch_normalization"} (BatchNormalization): epsilon must be positive, got {epsilon}");
        Momentum = momentum;
        Epsilon = epsilon;
    }

    /// <summary>
    /// The cap of a ReLU fused after this layer (+∞ for an uncapped one), or null: forward then writes
    /// min(max(y, 0), cap) and backward takes the gradient with respect to that activated output.
    /// Set by <see cref="Models.Sequential"/>, which then skips the ReLU layer.
    /// </summary>
    internal float? FusedActivationCap { get; set; }

    /// <summary>Keras momentum of the running statistics.</summary>
    public float Momentum { get; }
    /// <summary>Added to the variance before the square root.</summary>
    public float Epsilon { get; }

    /// <summary>Mean of each channel over the last training batch, <c>(C)</c>.</summary>
    public float[] BatchMean { get; private set; } = [];

    /// <summary>Biased variance of each channel over the last training batch, <c>(C)</c>.</summary>
    public float[] BatchVariance { get; private set; } = [];

    /// <inheritdoc/>
    public override string TypeName => "BatchNormalization";
    /// <inheritdoc/>
    public override string DefaultNameStem => "batch_normalization";

    private int C => InputShape.Rank > 0 ? InputShape.Channels : 1;

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> Parameters =>
    [
        new("gamma", TensorShape.Vector(C), Initializer.Ones),
        new("beta", TensorShape.Vector(C), Initializer.Zeros),
    ];

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> StateTensors =>
    [
        new("moving_mean", TensorShape.Vector(C), Initializer.Zeros),
        new("moving_variance", TensorShape.Vector(C), Initializer.Ones),
    ];

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input)
    {
        if (input.Rank != 3 && input.Rank != 1) throw BuildError($"expects (H, W, C) or (C) input, got {input}");
        return input;
    }

    internal override void Allocate(int maxBatch)
    {
        _invStd = new float[C];
        _shift = new float[C];
        _sum = new double[C];
        _sumSq = new double[C];
        int blocks = (maxBatch * (InputShape.Size / C) + BatchNormKernels.BlockRows - 1) / BatchNormKernels.BlockRows;
        _partial = new double[blocks * C];
        _partialSq = new double[blocks * C];
        BatchMean = new float[C];
        BatchVariance = new float[C];
    }

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int c = C, rows = batch * InputShape.Size / c;
        ReadOnlySpan<float> gamma = Weight(0), beta = Weight(1);
        _usedBatchStatistics = context.Training && Trainable;
        if (!_usedBatchStatistics)
        {
            ReadOnlySpan<float> mean = State(0), variance = State(1);
            for (int ch = 0; ch < c; ch++) _invStd[ch] = 1f / MathF.Sqrt(variance[ch] + Epsilon);
            for (int r = 0; r < rows; r++)
            {
                int o = r * c;
                for (int ch = 0; ch < c; ch++) y[o + ch] = gamma[ch] * (x[o + ch] - mean[ch]) * _invStd[ch] + beta[ch];
            }
            if (FusedActivationCap is { } cap) ParallelElementwise.Relu(y, y, rows * c, cap, Threads);
            return;
        }

        Run(x, default, y, batch, Pass.Normalize);
        if (context.UpdateRunningStatistics) FoldIntoRunningStatistics(BatchMean, BatchVariance);
    }

    /// <summary>running = momentum · running + (1 − momentum) · batch, for mean and (biased) variance.</summary>
    public void FoldIntoRunningStatistics(ReadOnlySpan<float> batchMean, ReadOnlySpan<float> batchVariance)
    {
        Span<float> mean = State(0), variance = State(1);
        for (int ch = 0; ch < C; ch++)
        {
            mean[ch] = Momentum * mean[ch] + (1f - Momentum) * batchMean[ch];
            variance[ch] = Momentum * variance[ch] + (1f - Momentum) * batchVariance[ch];
        }
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        int c = C, rows = batch * InputShape.Size / c;
        ReadOnlySpan<float> gamma = Weight(0);
        if (!_usedBatchStatistics)
        {
            // Inference mode: an affine map per channel with the moving statistics. A frozen
            // layer gets here in training too and keeps gamma and beta as they are. A fused
            // activation's mask comes from the activated output, as the ReLU layer's would.
            if (FusedActivationCap is { } cap)
            {
                if (!Trainable && !computeInputGradient) return;
                ParallelElementwise.ReluGradient(y, dy, dx, rows * c, cap, Threads);
                dy = dx;
            }
            if (Trainable)
            {
                ReadOnlySpan<float> mean = State(0);
                Array.Clear(_sum);
                Array.Clear(_sumSq);
                for (int r = 0; r < rows; r++)
                {
                    int o = r * c;
                    for (int ch = 0; ch < c; ch++)
                    {
                        _sum[ch] += dy[o + ch];
                        _sumSq[ch] += dy[o + ch] * (x[o + ch] - mean[ch]) * _invStd[ch];
                    }
                }
                Span<float> dG = Gradient(0), dB = Gradient(1);
                for (int ch = 0; ch < c; ch++) { dG[ch] = (float)_sumSq[ch]; dB[ch] = (float)_sum[ch]; }
            }
            if (computeInputGradient)
                for (int r = 0; r < rows; r++)
                {
                    int o = r * c;
                    for (int ch = 0; ch < c; ch++) dx[o + ch] = dy[o + ch] * gamma[ch] * _invStd[ch];
                }
            return;
        }
        Run(x, dy, dx, batch, computeInputGradient ? Pass.InputGradient : Pass.GradientSums);
    }

    private enum Pass { Statistics, Normalize, GradientSums, InputGradient }

    // The statistics in one pass in double (shifted by the batch's first row), then the normalisation;
    // threads share fixed blocks of rows (BatchNormKernels).
    private unsafe void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> output, int batch, Pass last)
    {
        int c = C, rows = batch * InputShape.Size / c;
        int blocks = (rows + BatchNormKernels.BlockRows - 1) / BatchNormKernels.BlockRows;
        int parts = Math.Min(Threads, blocks);
        fixed (float* px = x, pdy = dy, pout = output, gamma = Weight(0), beta = Weight(1), invStd = _invStd, mean = BatchMean, shift = _shift)
        fixed (double* sum = _sum, sumSq = _sumSq, partial = _partial, partialSq = _partialSq)
        {
            var channels = new BatchNormChannels(mean, invStd, gamma, beta, c, FusedActivationCap.HasValue, FusedActivationCap ?? float.PositiveInfinity);
            var o = new Operands(px, pdy, pout, in channels, partial, partialSq, shift, rows);
            if (last == Pass.Normalize)
            {
                x.Slice(0, c).CopyTo(_shift);
                RunPass(in o, Pass.Statistics, parts);
                BatchNormKernels.AddBlocks(partial, blocks, c, sum);
                BatchNormKernels.AddBlocks(partialSq, blocks, c, sumSq);
                for (int ch = 0; ch < c; ch++)
                {
                    double meanShift = sum[ch] / rows, variance = Math.Max(sumSq[ch] / rows - meanShift * meanShift, 0.0);
                    mean[ch] = (float)(shift[ch] + meanShift);
                    BatchVariance[ch] = (float)variance;
                    invStd[ch] = (float)(1.0 / Math.Sqrt(variance + Epsilon));
                }
                RunPass(in o, Pass.Normalize, parts);
                return;
            }
            RunPass(in o, Pass.GradientSums, parts);
            BatchNormKernels.AddBlocks(partial, blocks, c, sum);
            BatchNormKernels.AddBlocks(partialSq, blocks, c, sumSq);
            Span<float> dGamma = Gradient(0), dBeta = Gradient(1);
            for (int ch = 0; ch < c; ch++) { dGamma[ch] = (float)sumSq[ch]; dBeta[ch] = (float)sum[ch]; }
            if (last == Pass.InputGradient)
            {
                // The input gradient needs the sums' means: one division per channel, not two per element.
                for (int ch = 0; ch < c; ch++) { sum[ch] /= rows; sumSq[ch] /= rows; }
                _job.Set(in o, Pass.InputGradient, sum, sumSq);
                ParallelJobs.Run(_job, parts);
            }
        }
    }

    private unsafe void RunPass(in Operands o, Pass pass, int parts)
    {
        _job.Set(in o, pass, null, null);
        ParallelJobs.Run(_job, parts);
    }

    // Output is y in forward and dx in backward.
    private readonly unsafe struct Operands(float* x, float* dy, float* output, in BatchNormChannels channels, double* partial, double* partialSq,
        float* shift, int rows)
    {
        public readonly float* X = x, Dy = dy, Output = output, Shift = shift;
        public readonly BatchNormChannels Channels = channels;
        public readonly double* Partial = partial, PartialSq = partialSq;
        public readonly int Rows = rows;
        public int C => Channels.C;
    }

    // Each part takes a run of whole row blocks; partial sums go to the block's own slot.
    private sealed unsafe class Job : IParallelJob
    {
        private Operands _o;
        private Pass _pass;
        private double* _sum, _sumSq;

        public void Set(in Operands operands, Pass pass, double* sum, double* sumSq)
        {
            _o = operands;
            _pass = pass;
            _sum = sum;
            _sumSq = sumSq;
        }

        public void RunPart(int part, int parts)
        {
            ref readonly Operands o = ref _o;
            int blocks = (o.Rows + BatchNormKernels.BlockRows - 1) / BatchNormKernels.BlockRows;
            int b0 = ParallelJobs.Start(blocks, part, parts), b1 = ParallelJobs.Start(blocks, part + 1, parts);
            for (int b = b0; b < b1; b++)
            {
                int r0 = b * BatchNormKernels.BlockRows, r1 = Math.Min(r0 + BatchNormKernels.BlockRows, o.Rows);
                double* slot = o.Partial + (long)b * o.C, slotSq = o.PartialSq + (long)b * o.C;
                switch (_pass)
                {
                    case Pass.Statistics: BatchNormKernels.ShiftedSums(o.X, r0, r1, o.C, o.Shift, slot, slotSq); break;
                    case Pass.Normalize: BatchNormKernels.Normalize(o.X, r0, r1, in o.Channels, o.Output); break;
                    case Pass.GradientSums: BatchNormKernels.GradientSums(o.Dy, o.X, r0, r1, in o.Channels, slot, slotSq); break;
                    case Pass.InputGradient: BatchNormKernels.InputGradient(o.Dy, o.X, r0, r1, in o.Channels, _sum, _sumSq, o.Output); break;
                }
            }
        }
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>
    {
        ["momentum"] = Momentum,
        ["epsilon"] = Epsilon,
    };
}
