using System.Globalization;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.ParameterServer;

/// <summary>
/// Where an iteration's time goes, seen from the parameter server, averaged over
/// <see cref="Window"/> iterations: the slowest worker's compute, the rest of the wait for the
/// shards (serialization, transfer, reassembly), the update (fixed point → float, SGD,
/// batch-norm statistics) and the broadcast (serialization and hand-off of the new weights).
/// </summary>
public sealed class StepProfile
{
    /// <summary>Iterations per summary.</summary>
    public const int Window = 50;

    private double _wait, _apply, _broadcast, _compute;
    private int _count;
    private readonly GcActivity _gc = new();

    /// <summary>Adds an iteration; returns a summary line every <see cref="Window"/> iterations.</summary>
    public string? Add(double waitMs, double applyMs, double broadcastMs, double slowestComputeMs)
    {
        _wait += waitMs;
        _apply += applyMs;
        _broadcast += broadcastMs;
        _compute += slowestComputeMs;
        if (++_count < Window) return null;
        var (gen2, pause) = _gc.TakeSinceLast();
        string line = string.Create(CultureInfo.InvariantCulture,
            $"per iteration over {_count}: compute {_compute / _count:F1} ms, serialize+transfer {(_wait - _compute) / _count:F1} ms, aggregate {_apply / _count:F1} ms, broadcast {_broadcast / _count:F1} ms; {gen2} gen-2 collections, GC pauses {pause / _count:F2} ms per iteration");
        _wait = _apply = _broadcast = _compute = 0;
        _count = 0;
        return line;
    }
}
