using Distributed.Coordinator.ParameterServer;
using Distributed.Engine.Training;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.Tests.ParameterServer;

public class StepAggregatorTests
{
    private const int Parameters = 100;

    private static long[] Gradient(int seed) => Enumerable.Range(0, Parameters).Select(i => (long)(i * 7919 + seed) << 20).ToArray();

    private static GradientShard Shard(int shardId, int first, long[] gradient) =>
        new("run", 3, 3, shardId, $"w{shardId}", first, [16], [1.5], [4], gradient, [], 10);

    private static StepAggregator Begin()
    {
        var aggregator = new StepAggregator(Parameters, 0);
        aggregator.Begin(3, 3, 32, 2);
        return aggregator;
    }

    [Fact]
    public void A_head_joined_with_its_tail_adds_the_same_sum_as_the_whole_gradient()
    {
        var (a, b) = (Gradient(1), Gradient(2));
        var whole = Begin();
        Assert.Equal(ShardVerdict.Accept, whole.Offer(Shard(0, 0, a)).Verdict);
        Assert.Equal(ShardVerdict.Accept, whole.Offer(Shard(1, 1, b)).Verdict);

        var split = Begin();
        Assert.Equal(ShardVerdict.Accept, split.Offer(Shard(0, 0, a[..60]), new GradientTail("run", 3, 3, 0, "w0", 60, a[60..])).Verdict);
        Assert.Equal(ShardVerdict.Accept, split.Offer(Shard(1, 1, b)).Verdict);
        Assert.True(split.IsComplete);
        Assert.True(whole.Sum.SequenceEqual(split.Sum));
    }

    [Fact]
    public void A_head_without_its_tail_or_with_a_misplaced_or_invalid_tail_is_rejected()
    {
        var a = Gradient(1);
        var (verdict, reason) = Begin().Offer(Shard(0, 0, a[..60]));
        Assert.Equal(ShardVerdict.Reject, verdict);
        Assert.Contains("no tail", reason);
        Assert.Equal(ShardVerdict.Reject, Begin().Offer(Shard(0, 0, a[..60]), new GradientTail("run", 3, 3, 0, "w0", 50, a[50..])).Verdict);
        var poisoned = a[60..];
        poisoned[3] = FixedPointGradient.Invalid;
        Assert.Equal(ShardVerdict.Reject, Begin().Offer(Shard(0, 0, a[..60]), new GradientTail("run", 3, 3, 0, "w0", 60, poisoned)).Verdict);
    }
}
