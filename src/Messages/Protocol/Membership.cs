namespace Distributed.Messages.Protocol;

// The worker-registration conversation: Worker → Coordinator → Worker.

/// <summary>
/// A worker asks to take part. Sent to the coordinator singleton (through its proxy) until
/// answered; the sender is the worker actor. <see cref="RunId"/> is empty before the worker knows the run.
/// </summary>
public sealed record RegisterWorker(string RunId, string WorkerId, string DatasetFingerprint, int Threads) : IControlMessage;

/// <summary>The coordinator accepted a worker and hands it the plan of the run.</summary>
public sealed record WorkerAccepted(string RunId, string WorkerId, RunPlan Plan) : IControlMessage;

/// <summary>The coordinator refused a worker (dataset mismatch, too many workers); the worker exits non-zero.</summary>
public sealed record WorkerRefused(string RunId, string WorkerId, string Reason) : IControlMessage;

/// <summary>A worker built the plan's model and is ready for weights and shards.</summary>
public sealed record WorkerReady(string RunId, string WorkerId) : IControlMessage;

/// <summary>A worker could not take part (its message says why); it leaves.</summary>
public sealed record WorkerFailed(string RunId, string WorkerId, string Reason) : IControlMessage;

/// <summary>The run is over; workers leave the cluster and exit.</summary>
public sealed record RunFinished(string RunId, bool Success, string Summary) : IControlMessage;
