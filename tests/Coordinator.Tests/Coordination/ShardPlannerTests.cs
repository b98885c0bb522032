using Distributed.Coordinator.Coordination;

namespace Distributed.Coordinator.Tests.Coordination;

public class ShardPlannerTests
{
    [Fact]
    public void Equal_speeds_split_evenly_and_hand_the_rest_to_the_first_workers()
    {
        Assert.Equal([4, 4], ShardPlanner.Split(8, [1.0, 1.0]));
        Assert.Equal([3, 3, 2], ShardPlanner.Split(8, [1.0, 1.0, 1.0]));
    }

    [Fact]
    public void Split_minimises_the_slowest_workers_time_rather_than_rounding_proportionally()
    {
        // Exact proportional share of the slow worker: 8 * 0.11 / 0.53 = 1.66 micro-shards; rounding it to 2
        // makes the slow worker finish last (2 / 0.11 = 18.2 against 6 / 0.42 = 14.3), 1 and 7 give 16.7.
        var counts = ShardPlanner.Split(8, [0.42, 0.11]);
        Assert.Equal([7, 1], counts);
    }

    [Fact]
    public void A_worker_three_times_slower_gets_a_quarter()
    {
        Assert.Equal([6, 2], ShardPlanner.Split(8, [0.3, 0.1]));
        Assert.Equal([2, 6], ShardPlanner.Split(8, [0.1, 0.3]));
    }

    [Fact]
    public void Every_worker_gets_at_least_one_micro_shard_and_all_are_handed_out()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 500; trial++)
        {
            int workers = random.Next(1, 6);
            int micro = random.Next(workers, 40);
            var speeds = Enumerable.Range(0, workers).Select(_ => Math.Pow(10, random.NextDouble() * 3 - 2)).ToArray();
            var counts = ShardPlanner.Split(micro, speeds);
            Assert.Equal(micro, counts.Sum());
            Assert.All(counts, c => Assert.True(c >= 1));
            // No single move of a micro-shard lowers the predicted maximum.
            double Max(int[] c) => c.Select((k, i) => k / speeds[i]).Max();
            double max = Max(counts);
            for (int from = 0; from < workers; from++)
                for (int to = 0; to < workers; to++)
                {
                    if (from == to || counts[from] <= 1) continue;
                    var moved = (int[])counts.Clone();
                    moved[from]--;
                    moved[to]++;
                    Assert.True(Max(moved) >= max - 1e-12, $"moving one from {from} to {to} lowers the maximum of {string.Join(",", counts)}");
                }
        }
    }

    [Fact]
    public void Fewer_micro_shards_than_workers_go_one_each_to_the_fastest()
    {
        Assert.Equal([0, 1, 1], ShardPlanner.Split(2, [0.1, 0.5, 0.3]));
    }

    [Fact]
    public void Non_finite_or_zero_speeds_count_as_slowest()
    {
        Assert.Equal([7, 1], ShardPlanner.Split(8, [1.0, double.NaN]));
        Assert.Equal([1, 7], ShardPlanner.Split(8, [0.0, 1.0]));
    }
}
