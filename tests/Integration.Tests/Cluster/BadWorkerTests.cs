using Akka.Actor;
using Distributed.Engine.Training;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>
/// A worker whose results are rejected: its samples are computed again elsewhere, it is excluded after
/// three rejections in a row, and the run completes.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BadWorkerTests
{
    /// <summary>Answers every request with a gradient that holds a non-finite value.</summary>
    private static ScriptedWorker.Script Corrupt(int parameters) => (_, c, server) =>
    {
        var gradient = new long[parameters];
        gradient[0] = FixedPointGradient.Invalid;
        int count = (c.SampleIndices.Length + 7) / 8;
        var sizes = Enumerable.Range(0, count).Select(k => Math.Min(8, c.SampleIndices.Length - 8 * k)).ToArray();
        var shard = new GradientShard(c.RunId, c.Iteration, c.Version, c.ShardId, "corrupt", c.FirstMicroShard, sizes,
            new double[count], new int[count], gradient, [], 1.0);
        foreach (var chunk in TensorChunker.Split(shard, TensorChunker.NewTransferId())) server.Tell(chunk);
    };

    [Fact]
    public async Task Rejected_shards_are_computed_again_the_bad_worker_is_excluded_and_every_sample_is_accounted_for()
    {
        var plan = TestPlans.Plan("seed-simple", trainCount: 192, batch: 32, microShard: 8);
        int parameters = TestPlans.Spec("seed-simple").Build().Weights.Length;
        using var cluster = InProcessCluster.Start(plan, [1.0],
            ScriptedWorker.Factory("corrupt", Corrupt(parameters)));
        await cluster.WaitAsync(TimeSpan.FromSeconds(120));

        var epoch = Assert.Single(cluster.Epochs);
        Assert.Equal(192, epoch.Metrics.Samples);
        Assert.Contains(cluster.Events, e => e.Event == "shard_reassigned");
        var excluded = Assert.Single(cluster.Events, e => e.Event == "worker_excluded");
        Assert.StartsWith("corrupt: 3 shards in a row were rejected", excluded.Detail);
        // Rejected three times, then no work: later iterations run on the healthy worker alone.
        var events = cluster.Events.ToList();
        Assert.Equal(3, events.Take(events.IndexOf(excluded)).Count(e => e.Event == "shard_rejected"));
        Assert.DoesNotContain(events.Skip(events.IndexOf(excluded) + 1), e => e.Event == "shard_rejected");
        var weights = await cluster.WeightsAsync();
        Assert.All(weights.Weights, w => Assert.True(float.IsFinite(w)));
    }
}
