using System.Diagnostics;

namespace Distributed.Engine.Models;

/// <summary>
/// Wall-clock time per layer, forward and backward, accumulated over training steps while attached to
/// <see cref="Sequential.Timings"/>. Allocation-free (timestamps only); for benchmarks and tuning.
/// </summary>
public sealed class LayerTimings
{
    private readonly long[] _forward, _backward;
    private long _loss;

    /// <summary>Timings for a model of <paramref name="layers"/> layers.</summary>
    public LayerTimings(int layers)
    {
        _forward = new long[layers];
        _backward = new long[layers];
    }

    /// <summary>Steps recorded (forward passes of the first layer).</summary>
    public int Steps { get; private set; }

    /// <summary>Total forward time of layer <paramref name="index"/>, in milliseconds.</summary>
    public double ForwardMilliseconds(int index) => Stopwatch.GetElapsedTime(0, _forward[index]).TotalMilliseconds;

    /// <summary>Total backward time of layer <paramref name="index"/>, in milliseconds.</summary>
    public double BackwardMilliseconds(int index) => Stopwatch.GetElapsedTime(0, _backward[index]).TotalMilliseconds;

    /// <summary>Total time of the fused softmax cross-entropy (loss and logit gradient), in milliseconds.</summary>
    public double LossMilliseconds => Stopwatch.GetElapsedTime(0, _loss).TotalMilliseconds;

    /// <summary>Forgets what was recorded.</summary>
    public void Reset()
    {
        Array.Clear(_forward);
        Array.Clear(_backward);
        _loss = 0;
        Steps = 0;
    }

    internal void AddForward(int index, long ticks)
    {
        if (index == 0) Steps++;
        _forward[index] += ticks;
    }

    internal void AddBackward(int index, long ticks) => _backward[index] += ticks;

    internal void AddLoss(long ticks) => _loss += ticks;
}
