using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Coordinator.ParameterServer;

/// <summary>
/// The gradient tails of the next iteration that arrived before its <see cref="BeginStep"/>, by iteration,
/// shard and worker, until the step begins and takes them. Bounded: when full, the oldest iteration's
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

    /// <summary>Removes and returns the tails of an iteration, in shard order.</summary>
    public IReadOnlyList<GradientTail> TakeAll(long iteration)
    {
        var keys = _tails.Keys.Where(k => k.Iteration == iteration).OrderBy(k => k.ShardId).ThenBy(k => k.WorkerId, StringComparer.Ordinal).ToList();
        var taken = new List<GradientTail>(keys.Count);
        foreach (var key in keys)
            if (_tails.Remove(key, out var tail)) taken.Add(tail);
        return taken;
    }

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
