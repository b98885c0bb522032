using System.Diagnostics;
using System.Globalization;
using Distributed.Messages.Hosting;

namespace Distributed.Worker.Actors;

/// <summary>
/// Where a worker's iteration goes, averaged over <see cref="Window"/> shards: waiting for the next
/// weights after sending a shard (transfer both ways plus the parameter server's update), from those
/// weights to the start of the computation, the computation, and encoding and queueing the shard.
/// </summary>
public sealed class WorkerProfile
{
    /// <summary>Shards per summary.</summary>
    public const int Window = 50;

    private long _sentAt, _weightsAt, _startAt;
    private double _waitWeights, _toStart, _compute, _send;
    private int _count;
    private readonly GcActivity _gc = new();

    /// <summary>New weights arrived.</summary>
    public void WeightsArrived() => _weightsAt = Stopwatch.GetTimestamp();

    /// <summary>A computation starts.</summary>
    public void ComputeStarted() => _startAt = Stopwatch.GetTimestamp();

    /// <summary>A shard was sent, <paramref name="computeMilliseconds"/> after its computation started, <paramref name="sendStartedAt"/> the timestamp before encoding.</summary>
    /// <returns>A summary line every <see cref="Window"/> shards, else null.</returns>
    public string? ShardSent(double computeMilliseconds, long sendStartedAt)
    {
        long now = Stopwatch.GetTimestamp();
        if (_sentAt != 0 && _weightsAt > _sentAt) _waitWeights += Stopwatch.GetElapsedTime(_sentAt, _weightsAt).TotalMilliseconds;
        if (_weightsAt != 0 && _startAt >= _weightsAt) _toStart += Stopwatch.GetElapsedTime(_weightsAt, _startAt).TotalMilliseconds;
        _compute += computeMilliseconds;
        _send += Stopwatch.GetElapsedTime(sendStartedAt, now).TotalMilliseconds;
        _sentAt = now;
        if (++_count < Window) return null;
        var (gen2, pause) = _gc.TakeSinceLast();
        string line = string.Create(CultureInfo.InvariantCulture,
            $"per shard over {_count}: waiting for weights {_waitWeights / _count:F1} ms, weights to compute start {_toStart / _count:F1} ms, compute {_compute / _count:F1} ms, encode+send {_send / _count:F1} ms; {gen2} gen-2 collections, GC pauses {pause / _count:F2} ms per shard");
        _waitWeights = _toStart = _compute = _send = 0;
        _count = 0;
        return line;
    }
}
