using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.ParameterServer;

/// <summary>
/// The gradient tails that went ahead of their shards (<see cref="GradientTail"/>), by iteration, shard
/// and worker, until the shard arrives and takes its tail. Bounded: when full, the oldest iteration's
/// tail goes first, and the caller hands its array back.
/// </summary>
public sealed class GradientTails
{
    private readonly Dictionary<(long Iteration, int ShardId, string WorkerId), GradientTail> _tails = [];

    /// <summary>Tails held.</summary>
    public int Count => _tails.Count;

    /// <summary>Keeps a tail (replacing one with the same key); returns the tail that no longer fits or was replaced, if any.</summary>
    public GradientTail? Add(GradientTail tail, int capacity)
    {
        var key = (tail.Iteration, tail.ShardId, tail.WorkerId);
        GradientTail? displaced = _tails.Remove(key, out var replaced) ? replaced : null;
        if (displaced is null && _tails.Count >= capacity)
        {
            var oldest = _tails.Keys.MinBy(k => k.Iteration);
            displaced = _tails[oldest];
            _tails.Remove(oldest);
        }
        _tails[key] = tail;
        return displaced;
    }

    /// <summary>Removes and returns the tail of this shard, if it came.</summary>
    public GradientTail? Take(long iteration, int shardId, string workerId) =>
        _tails.Remove((iteration, shardId, workerId), out var tail) ? tail : null;

    /// <summary>Forgets tails of iterations before <paramref name="iteration"/>; their shards can no longer be accepted.</summary>
    public void DropBefore(long iteration)
    {
        foreach (var key in _tails.Keys.Where(k => k.Iteration < iteration).ToList())
        {
            Messages.Serialization.TensorBufferPool.Return(_tails[key].GradientFixedPoint);
            _tails.Remove(key);
        }
    }
}
