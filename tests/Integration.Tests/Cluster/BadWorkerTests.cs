using Akka.Actor;
using Distributed.Engine.Training;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>A worker whose results are rejected: its samples are computed again elsewhere and the run completes.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BadWorkerTests
{
    /// <summary>Registers like a worker, then answers every request with a gradient that holds a non-finite value.</summary>
    private sealed class CorruptWorker : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;

        public CorruptWorker(IActorRef coordinator, string fingerprint, int parameters)
        {
            IActorRef server = ActorRefs.Nobody;
            Receive<string>(_ => coordinator.Tell(new RegisterWorker("", "corrupt", fingerprint, 1)));
            Receive<WorkerAccepted>(a =>
            {
                Timers.CancelAll();
                Sender.Tell(new WorkerReady(a.RunId, "corrupt"));
            });
            Receive<TensorChunk>(_ => server = Sender);
            Receive<ComputeGradients>(c =>
            {
                var gradient = new long[parameters];
                gradient[0] = FixedPointGradient.Invalid;
                int count = (c.SampleIndices.Length + 7) / 8;
                var sizes = Enumerable.Range(0, count).Select(k => Math.Min(8, c.SampleIndices.Length - 8 * k)).ToArray();
                var shard = new GradientShard(c.RunId, c.Iteration, c.Version, c.ShardId, "corrupt", c.FirstMicroShard, sizes,
                    new double[count], new int[count], gradient, [], 1.0);
                foreach (var chunk in TensorChunker.Split(shard, TensorChunker.NewTransferId())) server.Tell(chunk);
            });
        }

        protected override void PreStart() => Timers.StartPeriodicTimer("register", "register", TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Rejected_shards_are_computed_again_and_every_sample_is_accounted_for()
    {
        var plan = TestPlans.Plan("seed-simple", trainCount: 96, batch: 32, microShard: 8);
        int parameters = TestPlans.Spec("seed-simple").Build().Weights.Length;
        using var cluster = InProcessCluster.Start(plan, [1.0],
            (system, coordinator) => Props.Create(() => new CorruptWorker(coordinator, TestPlans.Data.Fingerprint, parameters)));
        await cluster.WaitAsync(TimeSpan.FromSeconds(120));

        var epoch = Assert.Single(cluster.Epochs);
        Assert.Equal(96, epoch.Metrics.Samples);
        Assert.Contains(cluster.Events, e => e.Event == "shard_rejected");
        Assert.Contains(cluster.Events, e => e.Event == "shard_reassigned");
        var weights = await cluster.WeightsAsync();
        Assert.All(weights.Weights, w => Assert.True(float.IsFinite(w)));
    }
}
