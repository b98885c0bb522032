using Akka.Actor;
using Akka.Cluster.SBR;
using Akka.Event;
using Distributed.Messages.Hosting;

namespace Distributed.Messages.Tests.Hosting;

public class ClusterSetupTests
{
    [Fact]
    public void The_split_brain_resolver_keeps_the_side_with_the_coordinator_whatever_the_worker_count()
    {
        var config = ClusterSetup.BuildConfig(new ClusterOptions(ClusterOptions.WorkerRole, "127.0.0.1", 0, null, []));
        var settings = new SplitBrainResolverSettings(config);
        Assert.Equal(SplitBrainResolverSettings.KeepMajorityName, settings.DowningStrategy);
        Assert.Equal(ClusterOptions.CoordinatorRole, settings.KeepMajorityRole);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.DowningStableAfter);
        // Churn (workers killed every few seconds) must not down the whole cluster.
        Assert.Equal(TimeSpan.Zero, settings.DownAllWhenUnstable);
        Assert.Equal("Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster", config.GetString("akka.cluster.downing-provider-class"));
    }

    [Fact]
    public async Task A_flood_into_a_peer_mailbox_beyond_its_capacity_goes_to_dead_letters_instead_of_growing_the_queue()
    {
        var options = new ClusterOptions(ClusterOptions.WorkerRole, "127.0.0.1", 0, null, []);
        using var system = ActorSystem.Create("flood", ClusterSetup.BuildConfig(options));
        var gate = new TaskCompletionSource();
        var slow = system.ActorOf(Props.Create(() => new Stuck(gate.Task)).WithMailbox(ClusterSetup.PeerMailbox), "slow");
        int dropped = 0;
        var counter = system.ActorOf(Props.Create(() => new DeadLetterCounter(() => Interlocked.Increment(ref dropped))));
        system.EventStream.Subscribe(counter, typeof(DeadLetter));
        const int sent = ClusterSetup.PeerMailboxCapacity + 2000;
        for (int i = 0; i < sent; i++) slow.Tell(i);
        // One message is being handled (stuck), the mailbox holds its capacity, the rest were refused on arrival.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Volatile.Read(ref dropped) < sent - ClusterSetup.PeerMailboxCapacity - 1 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.InRange(Volatile.Read(ref dropped), sent - ClusterSetup.PeerMailboxCapacity - 1, sent - ClusterSetup.PeerMailboxCapacity);
        gate.SetResult();
        await system.Terminate();
    }

    private sealed class Stuck : ReceiveActor
    {
        public Stuck(Task gate) => ReceiveAny(_ => gate.Wait());
    }

    private sealed class DeadLetterCounter : ReceiveActor
    {
        public DeadLetterCounter(Action count) => Receive<DeadLetter>(_ => count());
    }
}
