using Akka.Actor;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Xunit.Abstractions;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>Messages carrying actor refs round-trip on a remoting node and the refs stay usable.</summary>
public sealed class ActorRefRoundTripTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(WireTestSupport.RemoteConfig, "refs", output)
{
    [Fact]
    public void Actor_refs_in_StartRun_and_WorkersChanged_come_back_as_the_same_live_actors()
    {
        IActorRef[] actors = [TestActor, Sys.ActorOf(Props.Empty, "worker-a"), Sys.ActorOf(Props.Empty, "worker-b")];

        var start = (StartRun)WireRoundTripTests.RoundTrip(Sys, new StartRun("run-1", WireTestSupport.Plan(), actors), out var s1);
        var changed = (WorkersChanged)WireRoundTripTests.RoundTrip(Sys, new WorkersChanged("run-1", actors.ToList()), out var s2);

        Assert.IsType<ControlMessageSerializer>(s1);
        Assert.IsType<ControlMessageSerializer>(s2);
        Assert.Equal(actors, start.Workers);
        Assert.Equal(actors, changed.Workers);
        Assert.Equal(actors.Select(a => a.Path), start.Workers.Select(a => a.Path));
        start.Workers[0].Tell("ping");
        ExpectMsg("ping");
        changed.Workers[0].Tell("pong");
        ExpectMsg("pong");
    }
}
