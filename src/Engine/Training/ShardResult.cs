namespace Distributed.Engine.Training;

/// <summary>
/// What a worker computed for consecutive micro-shards of a global batch: the fixed-point sum
/// of their gradient sums (<see cref="FixedPointGradient"/>), and per micro-shard its size,
/// loss sum, top-1 hits and batch-norm statistics (<c>sizes × state length</c>, state layout).
/// Non-finite or out-of-range gradient values travel as <see cref="FixedPointGradient.Invalid"/>, which the parameter server rejects.
/// </summary>
public sealed record ShardResult(long[] GradientFixedPoint, int[] MicroShardSizes, double[] LossSums, int[] Correct, float[] BatchStatistics)
{
    /// <summary>
    /// Where the part taken by <see cref="ShardComputer.TailReady"/> starts (parameters from here to the
    /// end went ahead), or -1 when none did.
    /// </summary>
    public int TailOffset { get; init; } = -1;
}
