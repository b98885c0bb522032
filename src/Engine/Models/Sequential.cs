using System.Diagnostics;
using Distributed.Engine.Layers;
using Distributed.Engine.Losses;
using Distributed.Engine.Randomness;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Models;

/// <summary>
/// A stack of layers with a fixed per-sample input shape (Keras's <c>Sequential</c>).
/// All parameters live in one flat float32 buffer <see cref="Weights"/> (layers in order, each
/// layer's tensors in Keras order), gradients in the twin <see cref="Gradients"/>, and
/// non-trainable state (batch-norm running statistics) in <see cref="State"/>.
/// Activation buffers are sized once for the largest batch seen and reused. A ReLU (capped or not)
/// right after a batch normalisation runs inside it, and a Flatten is a view of its input (<see cref="FusesLayers"/>):
/// the same numbers, without those layers' own passes over memory.
/// </summary>
public sealed class Sequential
{
    private readonly Layer[] _layers;
    private float[][] _activations = [];
    // Layers that run no code of their own and whose output is their input's buffer: a ReLU fused into
    // the batch norm before it, and a Flatten (NHWC rows are already flat).
    private bool[] _sharesInput = [];
    private float[] _gradA = [];
    private float[] _gradB = [];
    private float[] _dLogits = [];
    private int _capacity;

    /// <summary>Builds the model: names layers, infers and validates shapes, lays out the parameters.</summary>
    /// <exception cref="ModelBuildException">A layer does not fit its input; the message names it.</exception>
    public Sequential(TensorShape inputShape, IEnumerable<Layer> layers)
    {
        if (inputShape.Rank == 0) throw new ModelBuildException("the model needs an input shape, e.g. (28, 28, 1)");
        _layers = [.. layers];
        if (_layers.Length == 0) throw new ModelBuildException("the model has no layers");
        InputShape = inputShape;
        AssignNames();
        var shape = inputShape;
        foreach (var layer in _layers) shape = layer.Build(shape);
        OutputShape = shape;

        int p = 0, s = 0;
        foreach (var layer in _layers) { p = checked(p + layer.ParameterCount); s = checked(s + layer.StateCount); }
        Weights = new float[p];
        Gradients = new float[p];
        State = new float[s];
        p = 0; s = 0;
        foreach (var layer in _layers)
        {
            layer.Bind(Weights, Gradients, p, State, s);
            p += layer.ParameterCount;
            s += layer.StateCount;
        }
        PlanFusion();
    }

    /// <summary>
    /// True (the default) when each ReLU that directly follows a batch normalisation is fused into it and a
    /// Flatten (after the first layer) is a view of its input's buffer. The results are bitwise the same
    /// either way; false runs every layer on its own buffers (for comparison).
    /// </summary>
    internal bool FusesLayers
    {
        get => _fusesLayers;
        set
        {
            if (value == _fusesLayers) return;
            _fusesLayers = value;
            PlanFusion();
            _capacity = 0;
        }
    }

    private bool _fusesLayers = true;

    // A fused ReLU or a Flatten shares the buffer of the layer before it, and forward and backward skip it.
    private void PlanFusion()
    {
        _sharesInput = new bool[_layers.Length];
        for (int i = 0; i < _layers.Length; i++)
        {
            if (_fusesLayers && _layers[i] is Flatten && i > 0) _sharesInput[i] = true;
            if (_layers[i] is not BatchNormalization bn) continue;
            bn.FusedActivationCap = null;
            if (_fusesLayers && i + 1 < _layers.Length && _layers[i + 1] is ReLU relu)
            {
                bn.FusedActivationCap = relu.MaxValue ?? float.PositiveInfinity;
                _sharesInput[i + 1] = true;
            }
        }
    }

    /// <summary>When set, each layer's forward and backward time is added to it (null: no timing).</summary>
    public LayerTimings? Timings { get; set; }

    /// <summary>
    /// Engine threads for the matrix products (default 1). Results are bitwise identical for any
    /// value: work is split along output rows or columns, never along a summed dimension.
    /// </summary>
    public int Threads
    {
        get => _threads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _threads = value;
            foreach (var layer in _layers) layer.Threads = value;
        }
    }

    private int _threads = 1;

    /// <summary>Per-sample input shape, NHWC without the batch.</summary>
    public TensorShape InputShape { get; }

    /// <summary>Per-sample output shape.</summary>
    public TensorShape OutputShape { get; }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>All parameters (trainable and frozen), float32, layer by layer.</summary>
    public float[] Weights { get; }

    /// <summary>Gradients, same layout as <see cref="Weights"/>; written by <see cref="ComputeGradients"/>.</summary>
    public float[] Gradients { get; }

    /// <summary>Non-trainable state (batch-norm moving mean and variance), layer by layer.</summary>
    public float[] State { get; }

    /// <summary>Number of classes the model predicts (its output features).</summary>
    public int Classes => OutputShape.Size;

    /// <summary>Parameters of layers that are trainable.</summary>
    public long TrainableParameterCount => _layers.Where(l => l.Trainable).Sum(l => (long)l.ParameterCount);

    /// <summary>Frozen parameters plus all state.</summary>
    public long NonTrainableParameterCount => Weights.Length + (long)State.Length - TrainableParameterCount;

    /// <summary>Everything Keras counts: parameters plus state.</summary>
    public long TotalParameterCount => Weights.Length + (long)State.Length;

    /// <summary>Multiply-adds of one sample's forward pass.</summary>
    public long MultAdds => _layers.Sum(l => l.MultAdds);

    /// <summary>True when the last layer is a Softmax, which training fuses into the loss.</summary>
    public bool EndsWithSoftmax => _layers[^1] is Softmax;

    /// <summary>The layer with this name.</summary>
    public Layer this[string name] => _layers.FirstOrDefault(l => l.Name == name)
        ?? throw new ArgumentException($"the model has no layer named '{name}'; it has {string.Join(", ", _layers.Select(l => l.Name))}", nameof(name));

    /// <summary>The ranges of <see cref="Weights"/> that the optimiser may update (trainable layers), merged.</summary>
    public IReadOnlyList<ParameterSegment> TrainableSegments()
    {
        var list = new List<ParameterSegment>();
        foreach (var layer in _layers)
        {
            if (!layer.Trainable || layer.ParameterCount == 0) continue;
            if (list.Count > 0 && list[^1].Offset + list[^1].Length == layer.ParameterOffset)
                list[^1] = list[^1] with { Length = list[^1].Length + layer.ParameterCount };
            else list.Add(new ParameterSegment(layer.ParameterOffset, layer.ParameterCount));
        }
        return list;
    }

    /// <summary>Freezes every layer up to and including <paramref name="layerName"/>, and unfreezes the rest.</summary>
    public void FreezeUpTo(string layerName)
    {
        int index = Array.FindIndex(_layers, l => l.Name == layerName);
        if (index < 0) throw new ArgumentException($"the model has no layer named '{layerName}'", nameof(layerName));
        FreezeUpTo(index);
    }

    /// <summary>Freezes layers 0..<paramref name="layerIndex"/> (inclusive) and unfreezes the rest.</summary>
    public void FreezeUpTo(int layerIndex)
    {
        if (layerIndex < -1 || layerIndex >= _layers.Length) throw new ArgumentOutOfRangeException(nameof(layerIndex));
        for (int i = 0; i < _layers.Length; i++) _layers[i].Trainable = i > layerIndex;
    }

    /// <summary>
    /// Fills the weights with Keras's initialisers (Glorot uniform kernels, zero biases, unit
    /// gammas) and resets the state, deterministically from <paramref name="seed"/>.
    /// </summary>
    public void InitializeWeights(ulong seed)
    {
        for (int li = 0; li < _layers.Length; li++)
        {
            var layer = _layers[li];
            int offset = layer.ParameterOffset;
            var specs = layer.Parameters;
            for (int pi = 0; pi < specs.Count; pi++)
            {
                var spec = specs[pi];
                Fill(Weights.AsSpan(offset, spec.Shape.Size), spec, seed, ((ulong)li << 8) | (uint)pi);
                offset += spec.Shape.Size;
            }
            offset = layer.StateOffset;
            foreach (var spec in layer.StateTensors)
            {
                Fill(State.AsSpan(offset, spec.Shape.Size), spec, seed, 0);
                offset += spec.Shape.Size;
            }
        }
    }

    private static void Fill(Span<float> target, ParameterSpec spec, ulong seed, ulong stream)
    {
        switch (spec.Initializer)
        {
            case Initializer.Zeros: target.Clear(); break;
            case Initializer.Ones: target.Fill(1f); break;
            default:
                float limit = MathF.Sqrt(6f / Math.Max(spec.FanIn + spec.FanOut, 1));
                for (int i = 0; i < target.Length; i++)
                    target[i] = (2f * CounterRandom.Uniform(seed, 0x6C6F7261UL + stream, (ulong)i) - 1f) * limit;
                break;
        }
    }

    /// <summary>Copies parameters and state of the first <paramref name="layerCount"/> layers from a model with the same layers there.</summary>
    public void CopyWeightsFrom(Sequential source, int layerCount)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (layerCount > _layers.Length || layerCount > source._layers.Length) throw new ArgumentOutOfRangeException(nameof(layerCount));
        for (int i = 0; i < layerCount; i++)
        {
            var (a, b) = (source._layers[i], _layers[i]);
            if (a.TypeName != b.TypeName || a.ParameterCount != b.ParameterCount || a.StateCount != b.StateCount || a.OutputShape != b.OutputShape)
                throw new ModelBuildException($"cannot copy weights: layer {i} is {a.Name} ({a.TypeName}, output {a.OutputShape}) in the source but {b.Name} ({b.TypeName}, output {b.OutputShape}) here");
            source.Weights.AsSpan(a.ParameterOffset, a.ParameterCount).CopyTo(Weights.AsSpan(b.ParameterOffset));
            source.State.AsSpan(a.StateOffset, a.StateCount).CopyTo(State.AsSpan(b.StateOffset));
        }
    }

    /// <summary>Sizes every buffer for batches of up to <paramref name="maxBatch"/>; a no-op when already large enough.</summary>
    public void EnsureCapacity(int maxBatch)
    {
        if (maxBatch <= _capacity) return;
        _activations = new float[_layers.Length][];
        int largest = InputShape.Size;
        for (int i = 0; i < _layers.Length; i++)
        {
            _activations[i] = _sharesInput[i] ? _activations[i - 1] : new float[maxBatch * _layers[i].OutputShape.Size];
            largest = Math.Max(largest, _layers[i].OutputShape.Size);
            _layers[i].Allocate(maxBatch);
        }
        _gradA = new float[maxBatch * largest];
        _gradB = new float[maxBatch * largest];
        _dLogits = new float[maxBatch * OutputShape.Size];
        _capacity = maxBatch;
    }

    /// <summary>
    /// Runs the layers on <paramref name="x"/> (<c>batch × InputShape</c>) and returns the output
    /// (<c>batch × OutputShape</c>, probabilities if the model ends with Softmax), valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Forward(ReadOnlySpan<float> x, int batch, StepContext context) =>
        ForwardThrough(x, batch, context, _layers.Length);

    private ReadOnlySpan<float> ForwardThrough(ReadOnlySpan<float> x, int batch, StepContext context, int layerCount)
    {
        if (x.Length < batch * InputShape.Size) throw new ArgumentException($"input holds {x.Length} floats, a batch of {batch} needs {batch * InputShape.Size}", nameof(x));
        EnsureCapacity(batch);
        ReadOnlySpan<float> input = x;
        var timings = Timings;
        for (int i = 0; i < layerCount; i++)
        {
            if (_sharesInput[i]) continue;
            long start = timings is null ? 0 : Stopwatch.GetTimestamp();
            _layers[i].Forward(input, _activations[i], batch, context);
            timings?.AddForward(i, Stopwatch.GetTimestamp() - start);
            input = _activations[i].AsSpan(0, batch * _layers[i].OutputShape.Size);
        }
        return input;
    }

    /// <summary>
    /// One forward and backward pass in training mode over a batch: fills <see cref="Gradients"/>
    /// with the gradient of (sum of per-sample cross-entropy losses) · <paramref name="gradScale"/>
    /// — pass 1/batch for the batch mean, 1 for the sum a worker reports. A final Softmax layer is
    /// fused into the loss. Frozen layers get no gradient. Returns the loss sum and top-1 hits.
    /// </summary>
    public (double LossSum, int Correct) ComputeGradients(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int batch, StepContext context, float gradScale)
    {
        int logitLayers = EndsWithSoftmax ? _layers.Length - 1 : _layers.Length;
        var logits = ForwardThrough(x, batch, context, logitLayers);
        var dLogits = _dLogits.AsSpan(0, batch * OutputShape.Size);
        var timings = Timings;
        long lossStart = timings is null ? 0 : Stopwatch.GetTimestamp();
        var result = SoftmaxCrossEntropy.Forward(logits, labels, batch, OutputShape.Size, dLogits, gradScale);
        timings?.AddLoss(Stopwatch.GetTimestamp() - lossStart);

        BackwardThrough(x, batch, logitLayers, [], null);
        return result;
    }

    // Backward from the logits' gradient (in _dLogits) down to the first trainable layer; with a sink,
    // trainable layers hand their parameter gradients over group by group.
    private void BackwardThrough(ReadOnlySpan<float> x, int batch, int logitLayers, ReadOnlySpan<int> groupSizes, IGradientSink? sink)
    {
        int first = -1;
        for (int i = 0; i < logitLayers && first < 0; i++)
            if (_layers[i].Trainable && _layers[i].ParameterCount > 0) first = i;
        if (first < 0) return;
        var timings = Timings;
        ReadOnlySpan<float> dy = _dLogits.AsSpan(0, batch * OutputShape.Size);
        bool intoA = true;
        for (int i = logitLayers - 1; i >= first; i--)
        {
            // A fused ReLU's gradient is taken by the batch norm below it, which gets dy unchanged (a Flatten's is dy).
            if (_sharesInput[i]) continue;
            var layer = _layers[i];
            ReadOnlySpan<float> layerInput = i == 0 ? x : _activations[i - 1].AsSpan(0, batch * layer.InputShape.Size);
            ReadOnlySpan<float> layerOutput = _activations[i].AsSpan(0, batch * layer.OutputShape.Size);
            var dx = (intoA ? _gradA : _gradB).AsSpan(0, batch * layer.InputShape.Size);
            intoA = !intoA;
            bool needInput = i > first;
            long start = timings is null ? 0 : Stopwatch.GetTimestamp();
            if (sink is not null && layer.Trainable)
            {
                layer.BackwardGrouped(layerInput, layerOutput, dy, dx, batch, needInput, groupSizes, sink);
                if (layer.ParameterCount > 0) sink.LayerCompleted(layer.ParameterOffset);
            }
            else layer.Backward(layerInput, layerOutput, dy, dx, batch, needInput);
            timings?.AddBackward(i, Stopwatch.GetTimestamp() - start);
            dy = dx;
        }
    }

    /// <summary>
    /// True when <see cref="ComputeGroupedGradients"/> gives every group exactly the gradients a batch of
    /// that group alone would: every layer treats samples independently (no batch normalisation) and
    /// every trainable layer with parameters can split its parameter gradients by group.
    /// </summary>
    public bool SupportsGroupedGradients
    {
        get
        {
            foreach (var l in _layers)
                if (!l.SamplesIndependent || (l.Trainable && !l.SupportsGroupedGradients)) return false;
            return true;
        }
    }

    /// <summary>
    /// <see cref="ComputeGradients"/> (loss sum, gradient scale 1) for a batch of consecutive groups of
    /// samples, with one forward and one input-gradient pass over the whole batch: after each group's
    /// gradients of a layer are in <see cref="Gradients"/>, <paramref name="sink"/> gets them, bit for bit
    /// what <see cref="ComputeGradients"/> on that group alone writes there. Per group it writes the
    /// loss sum and the top-1 hits. Requires <see cref="SupportsGroupedGradients"/>.
    /// </summary>
    /// <param name="x">The batch, <c>batch × InputShape</c> (NHWC, float32).</param>
    /// <param name="labels">Class index per sample.</param>
    /// <param name="batch">Samples; the sum of <paramref name="groupSizes"/>.</param>
    /// <param name="context">Training-mode context with the batch's sample indices.</param>
    /// <param name="groupSizes">Consecutive groups, each at least one sample.</param>
    /// <param name="lossSums">Per group: the sum of its samples' cross-entropy losses.</param>
    /// <param name="correct">Per group: its samples whose top-1 prediction is the label.</param>
    /// <param name="sink">Receives each group's parameter gradients, layer by layer from the last.</param>
    public void ComputeGroupedGradients(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int batch, StepContext context,
        ReadOnlySpan<int> groupSizes, Span<double> lossSums, Span<int> correct, IGradientSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (!SupportsGroupedGradients)
            throw new InvalidOperationException("the model has a layer that mixes samples (batch normalisation) or cannot split its gradients by group");
        if (lossSums.Length < groupSizes.Length || correct.Length < groupSizes.Length) throw new ArgumentException("one loss sum and one hit count per group are needed");
        int total = 0;
        foreach (int n in groupSizes)
        {
            if (n <= 0) throw new ArgumentException("every group needs at least one sample", nameof(groupSizes));
            total += n;
        }
        if (total != batch) throw new ArgumentException($"the groups hold {total} samples, the batch {batch}", nameof(groupSizes));

        int logitLayers = EndsWithSoftmax ? _layers.Length - 1 : _layers.Length;
        var logits = ForwardThrough(x, batch, context, logitLayers);
        int classes = OutputShape.Size;
        var timings = Timings;
        long lossStart = timings is null ? 0 : Stopwatch.GetTimestamp();
        for (int k = 0, start = 0; k < groupSizes.Length; start += groupSizes[k], k++)
        {
            int n = groupSizes[k];
            (lossSums[k], correct[k]) = SoftmaxCrossEntropy.Forward(logits.Slice(start * classes, n * classes), labels.Slice(start, n), n, classes,
                _dLogits.AsSpan(start * classes, n * classes), 1f);
        }
        timings?.AddLoss(Stopwatch.GetTimestamp() - lossStart);

        BackwardThrough(x, batch, logitLayers, groupSizes, sink);
    }

    /// <summary>
    /// Writes the last training batch's statistics of every batch-norm layer into
    /// <paramref name="destination"/>, laid out like <see cref="State"/>: the batch mean where the
    /// moving mean lives and the (biased) batch variance where the moving variance lives.
    /// </summary>
    public void CopyBatchStatistics(Span<float> destination)
    {
        if (destination.Length != State.Length) throw new ArgumentException($"needs {State.Length} floats, got {destination.Length}", nameof(destination));
        foreach (var layer in _layers)
        {
            if (layer is not BatchNormalization bn) continue;
            int c = bn.BatchMean.Length;
            bn.BatchMean.CopyTo(destination.Slice(bn.StateOffset, c));
            bn.BatchVariance.CopyTo(destination.Slice(bn.StateOffset + c, c));
        }
    }

    /// <summary>
    /// Folds batch statistics (laid out like <see cref="State"/>, as <see cref="CopyBatchStatistics"/>
    /// writes them) into every batch-norm layer's running statistics with its momentum.
    /// </summary>
    public void FoldBatchStatistics(ReadOnlySpan<float> statistics)
    {
        if (statistics.Length != State.Length) throw new ArgumentException($"needs {State.Length} floats, got {statistics.Length}", nameof(statistics));
        foreach (var layer in _layers)
        {
            if (layer is not BatchNormalization bn || !bn.Trainable) continue;
            int c = layer.StateCount / 2;
            bn.FoldIntoRunningStatistics(statistics.Slice(bn.StateOffset, c), statistics.Slice(bn.StateOffset + c, c));
        }
    }

    /// <summary>
    /// Pools per-micro-shard batch statistics into the statistics of their union, weighting by
    /// sample count: mean = Σ nᵢ·mᵢ / N, variance = Σ nᵢ·(vᵢ + (mᵢ − mean)²) / N, in micro-shard order.
    /// <paramref name="perShard"/> holds <c>sizes.Length × State.Length</c> floats.
    /// </summary>
    public void PoolBatchStatistics(ReadOnlySpan<float> perShard, ReadOnlySpan<int> sizes, Span<float> pooled)
    {
        int s = State.Length;
        if (perShard.Length != sizes.Length * s || pooled.Length != s) throw new ArgumentException("statistics lengths do not match the state layout");
        pooled.Clear();
        long total = 0;
        foreach (var n in sizes) total += n;
        if (total == 0) return;
        foreach (var layer in _layers)
        {
            if (layer is not BatchNormalization) continue;
            int c = layer.StateCount / 2, off = layer.StateOffset;
            for (int ch = 0; ch < c; ch++)
            {
                double mean = 0;
                for (int k = 0; k < sizes.Length; k++) mean += (double)sizes[k] * perShard[k * s + off + ch];
                mean /= total;
                double variance = 0;
                for (int k = 0; k < sizes.Length; k++)
                {
                    double d = perShard[k * s + off + ch] - mean;
                    variance += sizes[k] * (perShard[k * s + off + c + ch] + d * d);
                }
                pooled[off + ch] = (float)mean;
                pooled[off + c + ch] = (float)(variance / total);
            }
        }
    }

    /// <summary>A Keras-style summary table; with <paramref name="multAdds"/> a per-layer mult-adds column.</summary>
    public string Summary(bool multAdds = false) => ModelSummary.Format(this, multAdds);

    private void AssignNames()
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layer in _layers.Where(l => l.HasExplicitName))
        {
            if (!used.Add(layer.Name)) throw new ModelBuildException($"two layers are named '{layer.Name}'; layer names must be unique");
        }
        var counters = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var layer in _layers.Where(l => !l.HasExplicitName))
        {
            string stem = layer.DefaultNameStem;
            string name;
            do
            {
                int n = counters.GetValueOrDefault(stem);
                counters[stem] = n + 1;
                name = n == 0 ? stem : $"{stem}_{n}";
            } while (!used.Add(name));
            layer.Name = name;
        }
    }
}
