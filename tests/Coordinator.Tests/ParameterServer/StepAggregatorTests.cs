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

    private static GradientTail Tail(int shardId, int offset, long[] tail) => new("run", 3, 3, shardId, $"w{shardId}", offset, tail, shardId, 1);

    private static StepAggregator Begin()
    {
        var aggregator = new StepAggregator(Parameters, 0);
        aggregator.Begin(3, 3, 32, 2);
        return aggregator;
    }

    [Fact]
    public void Tails_then_heads_add_the_same_sum_as_whole_gradients_and_the_tail_is_final_once_every_tail_is_in()
    {
        var (a, b) = (Gradient(1), Gradient(2));
        var whole = Begin();
        Assert.Equal(ShardVerdict.Accept, whole.Offer(Shard(0, 0, a)).Verdict);
        Assert.Equal(ShardVerdict.Accept, whole.Offer(Shard(1, 1, b)).Verdict);

        var split = Begin();
        Assert.Equal(ShardVerdict.Accept, split.OfferTail(Tail(0, 60, a[60..])).Verdict);
        Assert.False(split.TailComplete);
        Assert.Equal(ShardVerdict.Accept, split.OfferTail(Tail(1, 60, b[60..])).Verdict);
        Assert.True(split.TailComplete);
        Assert.Equal(60, split.TailOffset);
        Assert.True(whole.Sum[60..].SequenceEqual(split.Sum[60..]));
        split.MarkTailApplied();
        Assert.Equal(ShardVerdict.Accept, split.Offer(Shard(0, 0, a[..60])).Verdict);
        Assert.False(split.IsComplete);
        Assert.Equal(ShardVerdict.Accept, split.Offer(Shard(1, 1, b[..60])).Verdict);
        Assert.True(split.IsComplete);
        Assert.True(split.TailApplied);
        Assert.True(whole.Sum.SequenceEqual(split.Sum));
    }

    [Fact]
    public void A_whole_gradient_counts_its_tail_only_where_no_tail_came()
    {
        var (a, b) = (Gradient(1), Gradient(2));
        var whole = Begin();
        whole.Offer(Shard(0, 0, a));
        whole.Offer(Shard(1, 1, b));

        // Shard 0's tail went ahead, then its whole gradient came over another path; shard 1 only whole.
        var mixed = Begin();
        Assert.Equal(ShardVerdict.Accept, mixed.OfferTail(Tail(0, 60, a[60..])).Verdict);
        Assert.Equal(ShardVerdict.Accept, mixed.Offer(Shard(0, 0, a)).Verdict);
        Assert.False(mixed.TailComplete);
        Assert.Equal(ShardVerdict.Accept, mixed.Offer(Shard(1, 1, b)).Verdict);
        Assert.True(mixed.TailComplete);
        Assert.True(mixed.IsComplete);
        Assert.True(whole.Sum.SequenceEqual(mixed.Sum));
    }

    [Fact]
    public void A_head_without_its_tail_or_with_a_misplaced_or_invalid_tail_is_rejected_and_a_repeated_tail_dropped()
    {
        var a = Gradient(1);
        var (verdict, reason) = Begin().Offer(Shard(0, 0, a[..60]));
        Assert.Equal(ShardVerdict.Reject, verdict);
        Assert.Contains("no tail", reason);

        var misplaced = Begin();
        Assert.Equal(ShardVerdict.Accept, misplaced.OfferTail(Tail(0, 50, a[50..])).Verdict);
        Assert.Equal(ShardVerdict.Reject, misplaced.Offer(Shard(0, 0, a[..60])).Verdict);
        Assert.Equal(ShardVerdict.Reject, misplaced.OfferTail(Tail(1, 60, a[60..])).Verdict);
        Assert.Equal(ShardVerdict.Drop, misplaced.OfferTail(Tail(0, 50, a[50..])).Verdict);

        var poisoned = a[60..];
        poisoned[3] = FixedPointGradient.Invalid;
        Assert.Equal(ShardVerdict.Reject, Begin().OfferTail(Tail(0, 60, poisoned)).Verdict);
        Assert.Equal(ShardVerdict.Reject, Begin().OfferTail(Tail(0, 60, a[50..])).Verdict);
        Assert.Equal(ShardVerdict.Reject, Begin().OfferTail(new GradientTail("run", 3, 3, 0, "w0", 60, a[60..], 1, 2)).Verdict);
        Assert.Equal(ShardVerdict.Drop, Begin().OfferTail(new GradientTail("run", 4, 3, 0, "w0", 60, a[60..], 0, 1)).Verdict);
    }
}
