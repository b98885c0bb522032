using Distributed.Messages.Protocol;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>
/// Workers that stop answering, whose computations fail, or that leave: the run goes on with the
/// others, pauses below --min-workers and resumes when a worker joins, and every sample is computed once.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class WorkerFaultTests
{
    private const int Batch = 32, Samples = 128;

    private static RunPlan Plan() => TestPlans.Plan("seed-simple", trainCount: Samples, batch: Batch, microShard: 8);

    private static void AssertSameWeightsAsSingleProcess(WeightsSnapshot snapshot) =>
        TestPlans.AssertClose(TestPlans.SingleProcessWeights("seed-simple", Batch, Samples), snapshot.Weights);

    [Fact]
    public async Task A_shard_of_a_worker_that_stops_answering_is_given_to_another_after_its_time_out_with_the_same_result()
    {
        using var cluster = InProcessCluster.Start(Plan(), [1.0], ScriptedWorker.Factory("stopped", (_, _, _) => { }), shardTimeout: TimeSpan.FromSeconds(2));
        await cluster.WaitAsync(TimeSpan.FromSeconds(120));

        var epoch = Assert.Single(cluster.Epochs);
        Assert.Equal(Samples, epoch.Metrics.Samples);
        Assert.Equal(1, epoch.Workers); // the stopped one is still registered but on probation: not counted
        var timedOut = cluster.Events.Where(e => e.Event == "shard_timed_out").ToList();
        Assert.NotEmpty(timedOut);
        Assert.All(timedOut, e => Assert.Contains("on stopped: not back after", e.Detail));
        // On probation after its first overdue shard: it gets no new shards, so one iteration waits, not every one.
        Assert.All(timedOut, e => Assert.Equal(timedOut[0].Iteration, e.Iteration));
        AssertSameWeightsAsSingleProcess(await cluster.WeightsAsync());
    }

    [Fact]
    public async Task A_worker_whose_computations_fail_has_its_shards_computed_elsewhere_and_is_excluded()
    {
        using var cluster = InProcessCluster.Start(Plan(), [1.0], ScriptedWorker.Factory("failing", (context, c, _) =>
            context.Sender.Tell(new ShardFailed(c.RunId, c.Iteration, c.ShardId, "failing", "InvalidOperationException: out of luck"), context.Self)));
        await cluster.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(Samples, Assert.Single(cluster.Epochs).Metrics.Samples);
        Assert.Contains(cluster.Events, e => e.Event == "shard_failed" && e.Detail.Contains("out of luck", StringComparison.Ordinal));
        Assert.Contains(cluster.Events, e => e.Event == "worker_excluded" && e.Detail.StartsWith("failing:", StringComparison.Ordinal));
        AssertSameWeightsAsSingleProcess(await cluster.WeightsAsync());
    }

    [Fact]
    public async Task A_worker_restarted_under_its_old_id_replaces_the_dead_registration_without_waiting_for_a_time_out()
    {
        // "worker-2" hangs (never answers); a worker started again as "worker-2" takes its place at once,
        // long before the 60 s first-iteration time-out would have moved its shard.
        using var cluster = InProcessCluster.Start(Plan(), [1.0], ScriptedWorker.Factory("worker-2", (_, _, _) => { }), shardTimeout: TimeSpan.FromSeconds(60));
        await cluster.WaitForEventsAsync(events => events.Count(e => e.Event == "worker_joined") >= 2, TimeSpan.FromSeconds(60), "both workers joining");
        cluster.AddWorker("worker-2");
        await cluster.WaitAsync(TimeSpan.FromSeconds(45));

        Assert.Contains(cluster.Events, e => e.Event == "worker_left" && e.Detail == "worker-2 (registered again)");
        Assert.DoesNotContain(cluster.Events, e => e.Event == "shard_timed_out");
        Assert.Equal(Samples, Assert.Single(cluster.Epochs).Metrics.Samples);
        AssertSameWeightsAsSingleProcess(await cluster.WeightsAsync());
    }

    [Fact]
    public async Task Fewer_workers_than_the_minimum_pause_the_run_and_a_joining_worker_resumes_it()
    {
        // Two workers required; one leaves at its first request, so the run pauses until another joins.
        using var cluster = InProcessCluster.Start(Plan(), [1.0], ScriptedWorker.Factory("leaving", (context, _, _) => context.Stop(context.Self)), minLiveWorkers: 2);
        await cluster.WaitForEventsAsync(events => events.Any(e => e.Event == "paused"), TimeSpan.FromSeconds(60), "a pause");
        var paused = Assert.Single(cluster.Events, e => e.Event == "paused");
        Assert.Contains("the run needs at least 2 (--min-workers)", paused.Detail);
        Assert.False(cluster.Completion.IsCompleted);

        cluster.AddWorker("worker-late");
        await cluster.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Contains(cluster.Events, e => e.Event == "resumed");
        var epoch = Assert.Single(cluster.Epochs);
        Assert.Equal(Samples, epoch.Metrics.Samples);
        Assert.Equal(2, epoch.Workers);
        AssertSameWeightsAsSingleProcess(await cluster.WeightsAsync());
    }
}
