using Distributed.Messages.Hosting;
using Distributed.Worker.Actors;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>Who may join a run.</summary>
[Collection(ClusterCollection.Name)]
public sealed class MembershipTests
{
    [Fact]
    public async Task A_worker_with_another_dataset_is_refused_with_both_fingerprints_and_the_fix()
    {
        var plan = TestPlans.Plan("seed-simple", trainCount: 64, batch: 32, microShard: 8);
        using var cluster = InProcessCluster.Start(plan, [1.0]);
        var system = Akka.Actor.ActorSystem.Create(ClusterOptions.SystemName,
            ClusterSetup.BuildConfig(new ClusterOptions(ClusterOptions.WorkerRole, "127.0.0.1", 0, null, [cluster.SeedAddress])));
        try
        {
            var exit = new TaskCompletionSource<WorkerExit>();
            system.ActorOf(WorkerActor.Props(new WorkerSettings("stranger", TestPlans.Data.Train, new string('a', 64), 1,
                ClusterSetup.CoordinatorProxy(system), TimeSpan.FromSeconds(60), exit)), "worker");
            var result = await exit.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(ExitCodes.Failure, result.Code);
            Assert.Contains("fingerprint aaaaaaaaaaaa", result.Message);
            Assert.Contains("--data-dir", result.Message);
            await cluster.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Contains(cluster.Events, e => e.Event == "worker_refused");
        }
        finally
        {
            await system.Terminate();
        }
    }
}
