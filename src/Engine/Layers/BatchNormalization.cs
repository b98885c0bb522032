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
/// Training-mode forward saves x̂ and 1/σ per channel for backward.
/// </summary>
public sealed class BatchNormalization : Layer
{
    private float[] _xhat = [];
    private float[] _invStd = [];
    private double[] _sum = [];
    private double[] _sumSq = [];
    private bool _usedBatchStatistics;

    /// <summary>Creates a batch-normalisation layer.</summary>
    public BatchNormalization(float momentum = 0.99f, float epsilon = 1e-3f, string? name = null) : base(name)
    {
        if (!(momentum >= 0f && momentum <= 1f)) throw new ModelBuildException($"{name ?? "batch_normalization"} (BatchNormalization): momentum must be in [0, 1], got {momentum}");
        if (!(epsilon > 0f)) throw new ModelBuildException($"{name ?? "batch_normalization"} (BatchNormalization): epsilon must be positive, got {epsilon}");
        Momentum = momentum;
        Epsilon = epsilon;
    }

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
        _xhat = new float[maxBatch * InputShape.Size];
        _invStd = new float[C];
        _sum = new double[C];
        _sumSq = new double[C];
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
            return;
        }

        // Two passes in double: the mean, then the centred second moment, so a large M = N·H·W
        // does not lose precision.
        Array.Clear(_sum);
        Array.Clear(_sumSq);
        for (int r = 0; r < rows; r++)
        {
            int o = r * c;
            for (int ch = 0; ch < c; ch++) _sum[ch] += x[o + ch];
        }
        for (int ch = 0; ch < c; ch++) BatchMean[ch] = (float)(_sum[ch] / rows);
        for (int r = 0; r < rows; r++)
        {
            int o = r * c;
            for (int ch = 0; ch < c; ch++)
            {
                double d = x[o + ch] - (double)BatchMean[ch];
                _sumSq[ch] += d * d;
            }
        }
        for (int ch = 0; ch < c; ch++)
        {
            BatchVariance[ch] = (float)(_sumSq[ch] / rows);
            _invStd[ch] = (float)(1.0 / Math.Sqrt(_sumSq[ch] / rows + Epsilon));
        }
        for (int r = 0; r < rows; r++)
        {
            int o = r * c;
            for (int ch = 0; ch < c; ch++)
            {
                float xh = (x[o + ch] - BatchMean[ch]) * _invStd[ch];
                _xhat[o + ch] = xh;
                y[o + ch] = gamma[ch] * xh + beta[ch];
            }
        }
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
            // layer gets here in training too and keeps gamma and beta as they are.
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
        Array.Clear(_sum);
        Array.Clear(_sumSq);
        for (int r = 0; r < rows; r++)
        {
            int o = r * c;
            for (int ch = 0; ch < c; ch++)
            {
                _sum[ch] += dy[o + ch];                    // dβ
                _sumSq[ch] += dy[o + ch] * _xhat[o + ch];  // dγ
            }
        }
        Span<float> dGamma = Gradient(0), dBeta = Gradient(1);
        for (int ch = 0; ch < c; ch++) { dGamma[ch] = (float)_sumSq[ch]; dBeta[ch] = (float)_sum[ch]; }
        if (!computeInputGradient) return;
        // dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂))
        for (int r = 0; r < rows; r++)
        {
            int o = r * c;
            for (int ch = 0; ch < c; ch++)
            {
                double g = dy[o + ch] - _sum[ch] / rows - _xhat[o + ch] * _sumSq[ch] / rows;
                dx[o + ch] = (float)(gamma[ch] * _invStd[ch] * g);
            }
        }
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?>
    {
        ["momentum"] = Momentum,
        ["epsilon"] = Epsilon,
    };
}
