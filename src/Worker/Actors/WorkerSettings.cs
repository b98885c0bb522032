using Akka.Actor;
using Distributed.Engine.Data;

namespace Distributed.Worker.Actors;

/// <summary>
/// What a worker actor needs: its id, the local training set (dataset indices match the
/// coordinator's) and its fingerprint, the coordinator proxy, how long to try to join, and
/// where to report its exit code.
/// </summary>
public sealed record WorkerSettings(
    string WorkerId,
    Dataset Train,
    string DatasetFingerprint,
    int Threads,
    IActorRef Coordinator,
    TimeSpan JoinTimeout,
    TaskCompletionSource<WorkerExit> Exit);

/// <summary>How and why a worker process ends.</summary>
public sealed record WorkerExit(int Code, string Message);
