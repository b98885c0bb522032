using Akka.Actor;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>
/// One remoting ActorSystem (loopback, random port, the project's serialization HOCON) shared by the
/// tests of a class, so each theory row does not pay for starting and stopping remoting.
/// </summary>
public sealed class RemoteSystemFixture : IDisposable
{
    public RemoteSystemFixture()
    {
        System = ActorSystem.Create("wire", WireTestSupport.RemoteConfig);
        Actors =
        [
            System.ActorOf(Props.Empty, "worker-a"),
            System.ActorOf(Props.Empty, "worker-b"),
        ];
    }

    public ActorSystem System { get; }

    /// <summary>Live local actors whose refs the samples carry.</summary>
    public IActorRef[] Actors { get; }

    public void Dispose() => System.Terminate().Wait(TimeSpan.FromSeconds(10));
}
