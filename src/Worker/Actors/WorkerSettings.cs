using Akka.Actor;
using Distributed.Engine.Data;

namespace Distributed.Worker.Actors;

/// <summary>
/// What a worker actor needs: its id, the local training set (dataset indices match the
/// coordinator's) and its fingerprint, the coordinator proxy, how long to try to join, and
/// where to report its exit code. <c>Throttle</c> F &gt; 1 makes the worker sleep (F − 1) × the
/// compute time after each shard, as a slower machine would look from the coordinator.
/// </summary>
public sealed record WorkerSettings(
    string WorkerId,
    Dataset Train,
    string DatasetFingerprint,
    int Threads,
    IActorRef Coordinator,
    TimeSpan JoinTimeout,
    TaskCompletionSource<WorkerExit> Exit,
    double Throttle = 1.0);

/// <summary>How and why a worker process ends.</summary>
public sealed record WorkerExit(int Code, string Message);
