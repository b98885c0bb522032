using Distributed.Engine.Training;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.ParameterServer;

/// <summary>
/// Collects the gradient shards of one iteration. A shard covers consecutive micro-shards;
/// each micro-shard is accepted once (the first result wins, later duplicates are dropped),
/// the fixed-point sums are added exactly, and per-micro-shard figures are kept by index so
/// that every reduction runs in micro-shard order, never in arrival order.
/// </summary>
/// <remarks>
/// A shard's gradient may come in two parts: its tail (<see cref="GradientTail"/>, parameters from
/// <see cref="TailOffset"/> to the end, sent ahead) and then the shard with the parameters before it.
/// Tails and heads are counted per micro-shard separately, so once every micro-shard's tail is in
/// (<see cref="TailComplete"/>) those parameters' sum is final and can be applied before the heads
/// arrive. A shard with the whole gradient counts for both parts (for the head only where a tail
/// already came). A head whose micro-shards' tails did not all arrive is rejected.
/// </remarks>
public sealed class StepAggregator
{
    private readonly int _parameters;
    private readonly int _stateLength;
    private readonly long[] _sum;
    private bool[] _received = [];
    private bool[] _tailReceived = [];
    private int[] _sizes = [];
    private double[] _losses = [];
    private int[] _correct = [];
    private float[] _statistics = [];
    private readonly List<ShardTiming> _timings = [];

    /// <summary>Creates an aggregator for a model with these vector lengths.</summary>
    public StepAggregator(int parameters, int stateLength)
    {
        _parameters = parameters;
        _stateLength = stateLength;
        _sum = new long[parameters];
    }

    /// <summary>The iteration being collected, or −1 before the first.</summary>
    public long Iteration { get; private set; } = -1;

    /// <summary>The weights version the shards must have been computed on.</summary>
    public long Version { get; private set; }

    /// <summary>Samples expected in the iteration.</summary>
    public int SampleCount { get; private set; }

    /// <summary>True once every micro-shard has arrived.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>Where the iteration's gradient tails start (every tail of an iteration starts there), or −1 before the first tail.</summary>
    public int TailOffset { get; private set; } = -1;

    /// <summary>True once every micro-shard's tail (or whole gradient) arrived: the sum from <see cref="TailOffset"/> on is final.</summary>
    public bool TailComplete => TailOffset > 0 && Array.TrueForAll(_tailReceived, r => r);

    /// <summary>Set by <see cref="MarkTailApplied"/>: the caller applied the final tail sum before the heads completed.</summary>
    public bool TailApplied { get; private set; }

    /// <summary>The exact gradient sum over the batch (fixed point).</summary>
    public ReadOnlySpan<long> Sum => _sum;

    /// <summary>Micro-shard sizes, in order.</summary>
    public ReadOnlySpan<int> Sizes => _sizes;

    /// <summary>Per-micro-shard batch statistics, in order.</summary>
    public ReadOnlySpan<float> Statistics => _statistics;

    /// <summary>How long each accepted shard took on its worker.</summary>
    public IReadOnlyList<ShardTiming> Timings => _timings;

    /// <summary>Loss sum over the batch, added in micro-shard order.</summary>
    public double LossSum => _losses.Sum();

    /// <summary>Samples of the micro-shards that arrived.</summary>
    public int ReceivedSamples => _sizes.Sum();

    /// <summary>Top-1 hits over the batch.</summary>
    public int Correct => _correct.Sum();

    /// <summary>Starts collecting an iteration.</summary>
    public void Begin(long iteration, long version, int sampleCount, int microShards)
    {
        Iteration = iteration;
        Version = version;
        SampleCount = sampleCount;
        IsComplete = false;
        TailOffset = -1;
        TailApplied = false;
        Array.Clear(_sum);
        _received = new bool[microShards];
        _tailReceived = new bool[microShards];
        _sizes = new int[microShards];
        _losses = new double[microShards];
        _correct = new int[microShards];
        _statistics = new float[microShards * _stateLength];
        _timings.Clear();
    }

    /// <summary>Records that the caller applied the tail sum (requires <see cref="TailComplete"/>).</summary>
    public void MarkTailApplied()
    {
        if (!TailComplete) throw new InvalidOperationException("the tail sum is not final yet");
        TailApplied = true;
    }

    /// <summary>
    /// Validates and adds a gradient tail. Returns the verdict and, unless accepted, why; a
    /// <see cref="ShardVerdict.Reject"/> has bad content and its shard's samples must be computed again.
    /// </summary>
    public (ShardVerdict Verdict, string? Reason) OfferTail(GradientTail tail)
    {
        ArgumentNullException.ThrowIfNull(tail);
        if (tail.Iteration != Iteration) return (ShardVerdict.Drop, $"iteration {tail.Iteration}, expected {Iteration}");
        if (tail.Version != Version) return (ShardVerdict.Drop, $"weights version {tail.Version}, expected {Version}");
        if (tail.MicroShardCount <= 0 || tail.FirstMicroShard < 0 || tail.FirstMicroShard + (long)tail.MicroShardCount > _received.Length)
            return (ShardVerdict.Reject, $"micro-shards {tail.FirstMicroShard}..{tail.FirstMicroShard + (long)tail.MicroShardCount - 1} outside 0..{_received.Length - 1}");
        int length = tail.GradientFixedPoint?.Length ?? 0;
        if (tail.Offset <= 0 || tail.Offset + (long)length != _parameters)
            return (ShardVerdict.Reject, $"tail of parameters {tail.Offset}.. with {length} values does not end the model's {_parameters}");
        if (TailOffset >= 0 && tail.Offset != TailOffset)
            return (ShardVerdict.Reject, $"the gradient tail starts at {tail.Offset}, this iteration's tails at {TailOffset}");
        var (any, all) = Coverage(_tailReceived, tail.FirstMicroShard, tail.MicroShardCount);
        if (all) return (ShardVerdict.Drop, "duplicate: every micro-shard's tail already arrived");
        if (any) return (ShardVerdict.Drop, "overlaps micro-shards whose tails already arrived");
        if (!FixedPointGradient.IsValid(tail.GradientFixedPoint)) return (ShardVerdict.Reject, "gradient tail holds non-finite or out-of-range values");

        FixedPointGradient.Add(tail.GradientFixedPoint, _sum.AsSpan(tail.Offset));
        TailOffset = tail.Offset;
        Mark(_tailReceived, tail.FirstMicroShard, tail.MicroShardCount);
        return (ShardVerdict.Accept, null);
    }

    /// <summary>
    /// Validates and adds a shard. Returns the verdict and, unless accepted, why; a
    /// <see cref="ShardVerdict.Drop"/> is stale or foreign, a <see cref="ShardVerdict.Reject"/>
    /// has bad content and its samples must be computed again.
    /// </summary>
    public (ShardVerdict Verdict, string? Reason) Offer(GradientShard shard)
    {
        ArgumentNullException.ThrowIfNull(shard);
        if (shard.Iteration != Iteration) return (ShardVerdict.Drop, $"iteration {shard.Iteration}, expected {Iteration}");
        if (shard.Version != Version) return (ShardVerdict.Drop, $"weights version {shard.Version}, expected {Version}");
        if (shard.MicroShardSizes is null || shard.MicroShardSizes.Length == 0) return (ShardVerdict.Reject, "no micro-shards");
        int k = shard.MicroShardSizes.Length;
        if (shard.FirstMicroShard < 0 || shard.FirstMicroShard + k > _received.Length)
            return (ShardVerdict.Reject, $"micro-shards {shard.FirstMicroShard}..{shard.FirstMicroShard + k - 1} outside 0..{_received.Length - 1}");
        var (any, all) = Coverage(_received, shard.FirstMicroShard, k);
        if (all) return (ShardVerdict.Drop, "duplicate: every micro-shard already arrived");
        if (any) return (ShardVerdict.Drop, "overlaps micro-shards that already arrived");
        var (anyTail, allTails) = Coverage(_tailReceived, shard.FirstMicroShard, k);
        int head = shard.GradientFixedPoint?.Length ?? 0;
        if (head == _parameters)
        {
            if (anyTail && !allTails) return (ShardVerdict.Drop, "overlaps micro-shards whose tails already arrived");
        }
        else if (head < _parameters && head > 0 && allTails)
        {
            if (head != TailOffset) return (ShardVerdict.Reject, $"the gradient tail starts at {TailOffset}, the shard ends at {head}");
        }
        else
        {
            return (ShardVerdict.Reject, head < _parameters
                ? $"gradient has {head} values, the model has {_parameters}, and no tail went ahead for every micro-shard"
                : $"gradient has {head} values, the model has {_parameters}");
        }
        if (shard.MicroShardLossSums?.Length != k || shard.MicroShardCorrect?.Length != k || shard.BatchStatistics?.Length != k * _stateLength)
            return (ShardVerdict.Reject, "per-micro-shard arrays have the wrong length");
        if (shard.MicroShardSizes.Any(n => n <= 0)) return (ShardVerdict.Reject, "a micro-shard is empty");
        if (!FixedPointGradient.IsValid(shard.GradientFixedPoint)) return (ShardVerdict.Reject, "gradient holds non-finite or out-of-range values");
        if (shard.MicroShardLossSums.Any(l => !double.IsFinite(l))) return (ShardVerdict.Reject, "loss is not finite");
        if (shard.BatchStatistics.Any(s => !float.IsFinite(s))) return (ShardVerdict.Reject, "batch statistics are not finite");

        // Where the tails already came, only the head is added: each part of each micro-shard counts once.
        int added = allTails ? TailOffset : head;
        FixedPointGradient.Add(shard.GradientFixedPoint.AsSpan(0, added), _sum.AsSpan(0, added));
        if (!allTails) Mark(_tailReceived, shard.FirstMicroShard, k);
        Mark(_received, shard.FirstMicroShard, k);
        for (int i = 0; i < k; i++)
        {
            int m = shard.FirstMicroShard + i;
            _sizes[m] = shard.MicroShardSizes[i];
            _losses[m] = shard.MicroShardLossSums[i];
            _correct[m] = shard.MicroShardCorrect[i];
        }
        shard.BatchStatistics.AsSpan().CopyTo(_statistics.AsSpan(shard.FirstMicroShard * _stateLength));
        _timings.Add(new ShardTiming(shard.WorkerId, shard.MicroShardSizes.Sum(), shard.ComputeMilliseconds));
        IsComplete = Array.TrueForAll(_received, r => r);
        if (IsComplete && _sizes.Sum() != SampleCount)
        {
            IsComplete = false;
            return (ShardVerdict.Reject, $"micro-shards hold {_sizes.Sum()} samples, the batch has {SampleCount}");
        }
        return (ShardVerdict.Accept, null);
    }

    private static (bool Any, bool All) Coverage(bool[] received, int first, int count)
    {
        bool any = false, all = true;
        for (int i = first; i < first + count; i++) { any |= received[i]; all &= received[i]; }
        return (any, all);
    }

    private static void Mark(bool[] received, int first, int count)
    {
        for (int i = first; i < first + count; i++) received[i] = true;
    }
}

/// <summary>What happened to an offered shard.</summary>
public enum ShardVerdict
{
    /// <summary>Added to the iteration.</summary>
    Accept,
    /// <summary>Stale, duplicate or foreign: ignored.</summary>
    Drop,
    /// <summary>Bad content: its samples must be computed again.</summary>
    Reject,
}
