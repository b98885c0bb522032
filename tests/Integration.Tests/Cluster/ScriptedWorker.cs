using Akka.Actor;
using Distributed.Messages.Protocol;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>
/// A stand-in for a misbehaving worker: registers and says it is ready like a worker, then does
/// what its script says with every shard request (given the actor's context and the parameter
/// server, the sender of the weights it got).
/// </summary>
internal sealed class ScriptedWorker : ReceiveActor, IWithTimers
{
    /// <summary>What the worker does with a shard request.</summary>
    public delegate void Script(IActorContext context, ComputeGradients request, IActorRef parameterServer);

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Creates the worker; see <see cref="Factory"/>.</summary>
    public ScriptedWorker(IActorRef coordinator, string id, Script onRequest)
    {
        IActorRef server = ActorRefs.Nobody;
        Receive<string>(_ => coordinator.Tell(new RegisterWorker("", id, TestPlans.Data.Fingerprint, 1)));
        Receive<WorkerAccepted>(a =>
        {
            Timers.CancelAll();
            Sender.Tell(new WorkerReady(a.RunId, id));
        });
        Receive<TensorChunk>(_ => server = Sender);
        Receive<ComputeGradients>(c => onRequest(Context, c, server));
        ReceiveAny(_ => { });
    }

    /// <summary>The factory <see cref="InProcessCluster.Start"/> takes for its extra worker.</summary>
    public static Func<ActorSystem, IActorRef, Props> Factory(string id, Script onRequest) =>
        (_, coordinator) => Props.Create(() => new ScriptedWorker(coordinator, id, onRequest));

    /// <inheritdoc/>
    protected override void PreStart() => Timers.StartPeriodicTimer("register", "register", TimeSpan.Zero, TimeSpan.FromSeconds(1));
}
