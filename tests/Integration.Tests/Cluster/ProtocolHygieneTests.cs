using Akka.Actor;
using Akka.TestKit.Xunit2;
using Distributed.Coordinator.ParameterServer;
using Distributed.Engine.Training;
using Distributed.Messages.Protocol;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>The parameter server drops stale and foreign shards and rejects bad ones, counting both.</summary>
public sealed class ProtocolHygieneTests : TestKit
{
    private readonly RunPlan _plan = TestPlans.Plan("seed-simple", trainCount: 64, batch: 16, microShard: 8);
    private readonly int _parameters = TestPlans.Spec("seed-simple").Build().Weights.Length;

    private GradientShard Shard(long iteration, int first, long[]? gradient = null, string? runId = null, long version = 0) =>
        new(runId ?? _plan.RunId, iteration, version, ShardId: first, "probe", first, [8], [2.0], [1],
            gradient ?? new long[_parameters], [], 5.0);

    private (IActorRef Server, Akka.TestKit.TestProbe Worker) StartServer()
    {
        var server = Sys.ActorOf(ParameterServerActor.Props());
        var worker = CreateTestProbe();
        server.Tell(new StartRun(_plan.RunId, _plan, [worker.Ref]), TestActor);
        ExpectMsg<RunStarted>();
        return (server, worker);
    }

    [Fact]
    public void Parameter_server_drops_stale_and_foreign_shards_and_rejects_bad_ones()
    {
        var (server, _) = StartServer();
        server.Tell(new BeginStep(_plan.RunId, 0, 0, 0, SampleCount: 16, MicroShardCount: 2, LearningRate: 0.05f), TestActor);

        server.Tell(Shard(0, 0, runId: "another-run"));                       // foreign: dropped
        var wrongLength = Shard(0, 0, gradient: new long[_parameters - 1]);
        server.Tell(wrongLength);                                              // wrong length: rejected
        Assert.Contains("values", ExpectMsg<ShardRejected>().Reason);
        var notFinite = new long[_parameters];
        notFinite[3] = FixedPointGradient.Invalid;
        server.Tell(Shard(0, 1, gradient: notFinite));                         // NaN/Inf: rejected
        Assert.Contains("non-finite", ExpectMsg<ShardRejected>().Reason);

        server.Tell(Shard(0, 0));                                              // the recomputed shards
        Assert.Equal(0, ExpectMsg<ShardAccepted>().ShardId);                   // the coordinator stops waiting for it
        server.Tell(Shard(0, 0));                                              // a late duplicate: dropped
        server.Tell(Shard(0, 1));
        var step = ExpectMsg<StepCompleted>();
        Assert.Equal(16, step.Samples);
        Assert.Equal(2, step.RejectedShards);
        Assert.Equal(2, step.DroppedShards);

        server.Tell(Shard(0, 0, version: 0));                                  // stale iteration and version: dropped
        server.Tell(new BeginStep(_plan.RunId, 1, 0, 1, 16, 2, 0.05f), TestActor);
        server.Tell(Shard(1, 0, version: 1));
        server.Tell(Shard(1, 1, version: 1));
        ExpectMsg<ShardAccepted>();
        var next = ExpectMsg<StepCompleted>();
        Assert.Equal(3, next.DroppedShards);

        server.Tell(new GetWeights(_plan.RunId), TestActor);
        var weights = ExpectMsg<WeightsSnapshot>();
        Assert.Equal(2, weights.Version);
        Assert.All(weights.Weights, w => Assert.True(float.IsFinite(w)));
    }

    [Fact]
    public void A_shard_that_overtakes_its_step_announcement_waits_for_it()
    {
        var (server, _) = StartServer();
        server.Tell(Shard(0, 0));
        server.Tell(Shard(0, 1));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        server.Tell(new BeginStep(_plan.RunId, 0, 0, 0, 16, 2, 0.05f), TestActor);
        ExpectMsg<ShardAccepted>();
        Assert.Equal(16, ExpectMsg<StepCompleted>().Samples);
    }
}
