using Distributed.Engine.Data;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;

namespace Distributed.Engine.Training;

/// <summary>
/// A worker's gradient computation: for consecutive micro-shards of a global batch it runs
/// forward and backward in training mode (gradient of the loss <b>sum</b>, batch-norm on the
/// micro-shard's own statistics, dropout masks from the global sample index) and accumulates
/// the gradients in fixed point. Buffers are sized once for the micro-shard size.
/// </summary>
public sealed class ShardComputer
{
    private readonly Sequential _model;
    private readonly Dataset _data;
    private readonly int _microShard;
    private readonly float[] _images;
    private readonly int[] _labels;
    private readonly StepContext _context;
    private readonly long[] _sum;

    /// <summary>Creates the computer for a model, the local dataset and the plan's micro-shard size.</summary>
    public ShardComputer(Sequential model, Dataset data, int microShardSize, ulong seed)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _data = data ?? throw new ArgumentNullException(nameof(data));
        if (microShardSize <= 0) throw new ArgumentOutOfRangeException(nameof(microShardSize));
        _microShard = microShardSize;
        _images = new float[microShardSize * model.InputShape.Size];
        _labels = new int[microShardSize];
        _sum = new long[model.Weights.Length];
        _context = new StepContext { Training = true, UpdateRunningStatistics = false, Seed = seed, SampleIndices = new int[microShardSize] };
        model.EnsureCapacity(microShardSize);
    }

    /// <summary>The model whose weights are used; the caller sets them before computing.</summary>
    public Sequential Model => _model;

    /// <summary>
    /// Computes the micro-shards that <paramref name="sampleIndices"/> (dataset indices, batch order)
    /// splits into. The result's gradient array is this computer's own buffer, reused by the next call.
    /// </summary>
    public ShardResult Compute(int epoch, ReadOnlySpan<int> sampleIndices)
    {
        int count = (sampleIndices.Length + _microShard - 1) / _microShard;
        var sum = _sum;
        Array.Clear(sum);
        var sizes = new int[count];
        var losses = new double[count];
        var correct = new int[count];
        int stateLength = _model.State.Length;
        var stats = new float[count * stateLength];
        _context.Epoch = epoch;
        for (int k = 0; k < count; k++)
        {
            int start = k * _microShard;
            int n = Math.Min(_microShard, sampleIndices.Length - start);
            var indices = sampleIndices.Slice(start, n);
            _data.Gather(indices, _images, _labels);
            indices.CopyTo(_context.SampleIndices);
            var (loss, hits) = _model.ComputeGradients(_images, _labels, n, _context, 1f);
            FixedPointGradient.Accumulate(_model.Gradients, sum);
            sizes[k] = n;
            losses[k] = loss;
            correct[k] = hits;
            _model.CopyBatchStatistics(stats.AsSpan(k * stateLength, stateLength));
        }
        return new ShardResult(sum, sizes, losses, correct, stats);
    }
}
