using Akka.Actor;
using Distributed.Engine.Data;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.Coordination;

/// <summary>
/// What the coordinator actor needs: the plan, the local copy of the data (for the epoch
/// order, validation and test), worker limits, where checkpoints go and whom to report to.
/// </summary>
public sealed record CoordinatorSettings(
    RunPlan Plan,
    Dataset Train,
    Dataset Test,
    int MinWorkers,
    int MaxWorkers,
    string? CheckpointDirectory,
    IActorRef Reporter,
    IActorRef ParameterServer);
