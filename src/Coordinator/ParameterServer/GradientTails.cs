using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Coordinator.ParameterServer;

/// <summary>
/// The gradient tails that went ahead of their shards (<see cref="GradientTail"/>), by iteration, shard
/// and worker, until the shard arrives and takes its tail. Bounded: when full, the oldest iteration's
/// tail goes first. A tail the store drops has its array handed back to the pool; one taken is the taker's.
/// </summary>
public sealed class GradientTails
{
    private readonly Dictionary<(long Iteration, int ShardId, string WorkerId), GradientTail> _tails = [];

    /// <summary>Tails held.</summary>
    public int Count => _tails.Count;

    /// <summary>Keeps a tail, replacing one with the same key, or else the oldest iteration's when <paramref name="capacity"/> tails are held.</summary>
    public void Add(GradientTail tail, int capacity)
    {
        var key = (tail.Iteration, tail.ShardId, tail.WorkerId);
        if (!_tails.ContainsKey(key) && _tails.Count >= capacity) Drop(_tails.Keys.MinBy(k => k.Iteration));
        else Drop(key);
        _tails[key] = tail;
    }

    /// <summary>Removes and returns the tail of this shard, if it came.</summary>
    public GradientTail? Take(long iteration, int shardId, string workerId) =>
        _tails.Remove((iteration, shardId, workerId), out var tail) ? tail : null;

    /// <summary>Forgets tails of iterations before <paramref name="iteration"/>; their shards can no longer be accepted.</summary>
    public void DropBefore(long iteration)
    {
        foreach (var key in _tails.Keys.Where(k => k.Iteration < iteration).ToList()) Drop(key);
    }

    private void Drop((long, int, string) key)
    {
        if (_tails.Remove(key, out var tail)) TensorBufferPool.Return(tail.GradientFixedPoint);
    }
}
