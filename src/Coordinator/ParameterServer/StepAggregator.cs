using Distributed.Engine.Training;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.ParameterServer;

/// <summary>
/// Collects the gradient shards of one iteration. A shard covers consecutive micro-shards;
/// each micro-shard is accepted once (the first result wins, later duplicates are dropped),
/// the fixed-point sums are added exactly, and per-micro-shard figures are kept by index so
/// that every reduction runs in micro-shard order, never in arrival order.
/// </summary>
public sealed class StepAggregator
{
    private readonly int _parameters;
    private readonly int _stateLength;
    private long[] _sum;
    private bool[] _received = [];
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
        Array.Clear(_sum);
        _received = new bool[microShards];
        _sizes = new int[microShards];
        _losses = new double[microShards];
        _correct = new int[microShards];
        _statistics = new float[microShards * _stateLength];
        _timings.Clear();
    }

    /// <summary>
    /// Validates and adds a shard. Returns null when accepted, otherwise why not; a
    /// <see cref="ShardVerdict.Drop"/> is stale or foreign, a <see cref="ShardVerdict.Reject"/>
    /// has bad content and its samples must be computed again.
    /// </summary>
    public (ShardVerdict Verdict, string? Reason) Offer(GradientShard shard) => Offer(shard, null);

    /// <summary>
    /// <see cref="Offer(GradientShard)"/> for a shard whose gradient covers the parameters before
    /// <paramref name="tail"/>'s offset, joined with the tail (same iteration, shard and worker) that went ahead.
    /// </summary>
    public (ShardVerdict Verdict, string? Reason) Offer(GradientShard shard, GradientTail? tail)
    {
        if (shard.Iteration != Iteration) return (ShardVerdict.Drop, $"iteration {shard.Iteration}, expected {Iteration}");
        if (shard.Version != Version) return (ShardVerdict.Drop, $"weights version {shard.Version}, expected {Version}");
        if (shard.MicroShardSizes is null || shard.MicroShardSizes.Length == 0) return (ShardVerdict.Reject, "no micro-shards");
        int k = shard.MicroShardSizes.Length;
        if ( shard.FirstMicroShard < 0 || shard.FirstMicroShard + k > _received.Length)
            return (ShardVerdict.Reject, $"micro-shards {shard.FirstMicroShard}..{shard.FirstMicroShard + k - 1} outside 0..{_received.Length - 1}");
        bool any = false, all = true;
        for (int i = 0; i < k; i++) { bool r = _received[shard.FirstMicroShard + i]; any |= r; all &= r; }
        if (all) return (ShardVerdict.Drop, "duplicate: every micro-shard already arrived");
        if (any) return (ShardVerdict.Drop, "overlaps micro-shards that already arrived");
        int head = shard.GradientFixedPoint?.Length ?? 0, rest = tail?.GradientFixedPoint?.Length ?? 0;
        if (tail is not null && tail.Offset != head)
            return (ShardVerdict.Reject, $"the gradient tail starts at {tail.Offset}, the shard ends at {head}");
        if (head + rest != _parameters)
            return (ShardVerdict.Reject, tail is null && head < _parameters
                ? $"gradient has {head} values, the model has {_parameters}, and no tail went ahead"
                : $"gradient has {head + rest} values, the model has {_parameters}");
        if (shard.MicroShardLossSums?.Length != k || shard.MicroShardCorrect?.Length != k || shard.BatchStatistics?.Length != k * _stateLength)
            return (ShardVerdict.Reject, "per-micro-shard arrays have the wrong length");
        if (shard.MicroShardSizes.Any(n => n <= 0)) return (ShardVerdict.Reject, "a micro-shard is empty");
        if (!FixedPointGradient.IsValid(shard.GradientFixedPoint) || (tail is not null && !FixedPointGradient.IsValid(tail.GradientFixedPoint)))
            return (ShardVerdict.Reject, "gradient holds non-finite or out-of-range values");
        if (shard.MicroShardLossSums.Any(l => !double.IsFinite(l))) return (ShardVerdict.Reject, "loss is not finite");
        if (shard.BatchStatistics.Any(s => !float.IsFinite(s))) return (ShardVerdict.Reject, "batch statistics are not finite");

        FixedPointGradient.Add(shard.GradientFixedPoint, _sum.AsSpan(0, head));
        if (tail is not null) FixedPointGradient.Add(tail.GradientFixedPoint, _sum.AsSpan(head));
        for (int i = 0; i < k; i++)
        {
            int m = shard.FirstMicroShard + i;
            _received[m] = true;
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
