using Distributed.Engine.Training;

namespace Distributed.Coordinator.Coordination;

// Local messages from the coordinator actor to the run reporter of the CLI process (never on the wire).

/// <summary>An epoch ended; <paramref name="Workers"/> is the live worker count.</summary>
public sealed record EpochEnded(string RunId, EpochMetrics Metrics, int Workers, int TotalEpochs);

/// <summary>
/// The reporter's answer to <see cref="EpochEnded"/>: the epoch's row is in <c>metrics.jsonl</c>. The coordinator
/// waits for it before the epoch's checkpoint, so a run resumed from any later checkpoint has the row.
/// </summary>
public sealed record EpochRecorded(string RunId, int Epoch);

/// <summary>Something worth a metrics event row happened (join, departure, rejected or re-assigned shard).</summary>
public sealed record RunEvent(string RunId, string Event, string Detail, long Iteration);

/// <summary>An iteration completed (for progress): running loss and accuracy of the epoch, live workers and the slowest one's smoothed speed.</summary>
public sealed record IterationEnded(string RunId, int Epoch, int IterationInEpoch, int IterationsInEpoch, double Loss, double Accuracy, int Workers,
    string? SlowestWorker = null, double SlowestImagesPerSecond = 0);

/// <summary>The run finished: test figures and the final checkpoint.</summary>
public sealed record TrainingCompleted(string RunId, EvaluationResult Test, string? CheckpointPath);

/// <summary>The run cannot go on.</summary>
public sealed record TrainingFailed(string RunId, string Reason);
