using Distributed.Engine.Data;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;

namespace Distributed.Engine.Training;

/// <summary>
/// A worker's gradient computation: for consecutive micro-shards of a global batch it runs
/// forward and backward in training mode (gradient of the loss <b>sum</b>, batch-norm on the
/// micro-shard's own statistics, dropout masks from the global sample index) and accumulates
/// the gradients in fixed point.
/// </summary>
/// <remarks>
/// When every layer treats samples independently (no batch normalisation), the whole shard goes
/// through the model as one batch and only the parameter gradients are computed per micro-shard
/// (<see cref="Sequential.ComputeGroupedGradients"/>): the same bits as one micro-shard at a time, with
/// the forward and input-gradient products on the larger batch. Otherwise micro-shards run one by
/// one. Buffers grow to the largest shard seen and are reused.
/// </remarks>
public sealed class ShardComputer
{
    private readonly Sequential _model;
    private readonly Dataset _data;
    private readonly int _microShard;
    private readonly StepContext _context;
    private readonly long[] _sum;
    private readonly FixedPointSink _sink;
    private float[] _images = [];
    private int[] _labels = [];

    /// <summary>Creates the computer for a model, the local dataset and the plan's micro-shard size.</summary>
    public ShardComputer(Sequential model, Dataset data, int microShardSize, ulong seed)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _data = data ?? throw new ArgumentNullException(nameof(data));
        if (microShardSize <= 0) throw new ArgumentOutOfRangeException(nameof(microShardSize));
        _microShard = microShardSize;
        _sum = new long[model.Weights.Length];
        _sink = new FixedPointSink(model.Gradients, _sum);
        _context = new StepContext { Training = true, UpdateRunningStatistics = false, Seed = seed };
        Grow(microShardSize);
    }

    /// <summary>The model whose weights are used; the caller sets them before computing.</summary>
    public Sequential Model => _model;

    /// <summary>
    /// Whether shards run through the model as one batch (see the remarks); false runs every
    /// micro-shard on its own, which gives the same bits.
    /// </summary>
    public bool WholeShard { get; set; } = true;

    /// <summary>
    /// Called on the computing thread, at most once per shard and only on the whole-shard path, as soon
    /// as the fixed-point sum of the parameters from <c>offset</c> to the end (at least half of them)
    /// is final while earlier layers are still being computed: a worker sends that part ahead. It
    /// returns true when it took the part; the result then says so (<see cref="ShardResult.TailOffset"/>).
    /// </summary>
    public TailHandler? TailReady { get; set; }

    /// <summary>Takes the final trailing part of a shard's gradient sum; see <see cref="TailReady"/>.</summary>
    /// <param name="offset">First parameter of the part.</param>
    /// <param name="tail">The fixed-point sums of parameters <paramref name="offset"/> to the end; valid during the call.</param>
    public delegate bool TailHandler(int offset, ReadOnlySpan<long> tail);

    /// <summary>
    /// Computes the micro-shards that <paramref name="sampleIndices"/> (dataset indices, batch order)
    /// splits into. The result's gradient array is this computer's own buffer, reused by the next call.
    /// </summary>
    public ShardResult Compute(int epoch, ReadOnlySpan<int> sampleIndices)
    {
        int count = (sampleIndices.Length + _microShard - 1) / _microShard;
        Array.Clear(_sum);
        var sizes = new int[count];
        for (int k = 0; k < count; k++) sizes[k] = Math.Min(_microShard, sampleIndices.Length - k * _microShard);
        var losses = new double[count];
        var correct = new int[count];
        var stats = new float[count * _model.State.Length];
        _context.Epoch = epoch;
        if (WholeShard && _model.SupportsGroupedGradients)
        {
            Grow(sampleIndices.Length);
            int n = sampleIndices.Length;
            _data.Gather(sampleIndices, _images, _labels);
            sampleIndices.CopyTo(_context.SampleIndices);
            _sink.Begin(TailReady);
            _model.ComputeGroupedGradients(_images, _labels, n, _context, sizes, losses, correct, _sink);
            return new ShardResult(_sum, sizes, losses, correct, stats) { TailOffset = _sink.TailOffset };
        }
        for (int k = 0; k < count; k++)
        {
            var indices = sampleIndices.Slice(k * _microShard, sizes[k]);
            _data.Gather(indices, _images, _labels);
            indices.CopyTo(_context.SampleIndices);
            (losses[k], correct[k]) = _model.ComputeGradients(_images, _labels, sizes[k], _context, 1f);
            FixedPointGradient.Accumulate(_model.Gradients, _sum);
            _model.CopyBatchStatistics(stats.AsSpan(k * _model.State.Length, _model.State.Length));
        }
        return new ShardResult(_sum, sizes, losses, correct, stats);
    }

    private void Grow(int samples)
    {
        if (_labels.Length >= samples) return;
        _images = new float[samples * _model.InputShape.Size];
        _labels = new int[samples];
        _context.SampleIndices = new int[samples];
        _model.EnsureCapacity(samples);
    }

    // Adds each group's gradients of one layer into the shard's fixed-point sum; a non-finite value
    // is marked there (FixedPointGradient.Invalid), as in the one-by-one path, and rejected downstream.
    // Parameters of frozen layers get no gradient and keep their zero, as they do one by one.
    private sealed class FixedPointSink(float[] gradients, long[] sum) : IGradientSink
    {
        private TailHandler? _tailReady;

        public int TailOffset { get; private set; } = -1;

        public void Begin(TailHandler? tailReady)
        {
            _tailReady = tailReady;
            TailOffset = -1;
        }

        public void Accept(int offset, int count) =>
            FixedPointGradient.Accumulate(gradients.AsSpan(offset, count), sum.AsSpan(offset, count));

        public void LayerCompleted(int offset)
        {
            if (_tailReady is null || TailOffset >= 0 || offset <= 0 || 2L * (sum.Length - offset) < sum.Length) return;
            if (_tailReady(offset, sum.AsSpan(offset))) TailOffset = offset;
            _tailReady = null;
        }
    }
}
