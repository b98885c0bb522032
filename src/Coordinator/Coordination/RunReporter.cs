using System.Globalization;
using Akka.Actor;
using Distributed.Coordinator.Cli;
using Distributed.Coordinator.Commands;
using Distributed.Coordinator.Runs;

namespace Distributed.Coordinator.Coordination;

/// <summary>
/// The CLI's view of a distributed run: prints Keras-style epoch lines with the live worker
/// count (and on a terminal a live progress line with the slowest worker and the shards re-assigned), writes <c>metrics.jsonl</c> (epoch rows with <c>workers</c>, event rows) and completes
/// the completion source with the test figures or the failure; <c>started</c> completes with the first iteration.
/// </summary>
public sealed class RunReporter : ReceiveActor
{
    /// <summary>Props for the reporter.</summary>
    public static Props Props(TextWriter output, ProgressBar? bar, MetricsWriter? metrics, TaskCompletionSource<TrainingCompleted> completion, TaskCompletionSource started) =>
        Akka.Actor.Props.Create(() => new RunReporter(output, bar, metrics, completion, started));

    /// <summary>Creates the reporter; use <see cref="Props"/>.</summary>
    public RunReporter(TextWriter output, ProgressBar? bar, MetricsWriter? metrics, TaskCompletionSource<TrainingCompleted> completion, TaskCompletionSource started)
    {
        int reassigned = 0;
        Receive<EpochEnded>(e =>
        {
            if (bar is null) output.WriteLine($"Epoch {e.Metrics.Epoch}/{e.TotalEpochs}");
            bar?.EndEpoch();
            output.WriteLine(TrainCommand.FormatEpoch(e.Metrics) + $" - workers: {e.Workers}");
            if (metrics is not null)
            {
                var row = MetricsWriter.EpochRow(e.Metrics);
                row["workers"] = e.Workers;
                metrics.Write(row);
            }
            Sender.Tell(new EpochRecorded(e.RunId, e.Metrics.Epoch));
        });
        Receive<RunEvent>(e =>
        {
            if (e.Event == "shard_reassigned") reassigned++;
            // News for whoever watches a standby node's console, which was quiet until then.
            if (e.Event == "took_over")
            {
                bar?.EndEpoch();
                output.WriteLine(e.Detail);
            }
            metrics?.Write(new Dictionary<string, object?>
            {
                ["kind"] = "event",
                ["event"] = e.Event,
                ["detail"] = e.Detail,
                ["iteration"] = e.Iteration,
                ["time"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            });
        });
        Receive<IterationEnded>(i =>
        {
            started.TrySetResult();
            if (bar is null) return;
            string slowest = i.SlowestWorker is null ? "" : string.Create(CultureInfo.InvariantCulture, $", slowest {i.SlowestWorker} {i.SlowestImagesPerSecond:F0} images/s");
            bar.Iteration(i.Epoch, i.IterationInEpoch, i.IterationsInEpoch, i.Loss, i.Accuracy,
                $"workers: {i.Workers}{slowest}{(reassigned > 0 ? $", {reassigned} shards re-assigned" : "")}");
        });
        Receive<TrainingCompleted>(c =>
        {
            metrics?.Test(c.Test);
            completion.TrySetResult(c);
        });
        Receive<TrainingFailed>(f => completion.TrySetException(new Engine.EngineException($"training failed: {f.Reason}")));
    }
}
