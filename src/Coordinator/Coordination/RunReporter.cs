using System.Globalization;
using Akka.Actor;
using Distributed.Coordinator.Commands;
using Distributed.Coordinator.Runs;

namespace Distributed.Coordinator.Coordination;

/// <summary>
/// The CLI's view of a distributed run: prints Keras-style epoch lines with the live worker
/// count, writes <c>metrics.jsonl</c> (epoch rows with <c>workers</c>, event rows) and completes
/// the completion source with the test figures or the failure; <c>started</c> completes with the first iteration.
/// </summary>
public sealed class RunReporter : ReceiveActor
{
    /// <summary>Props for the reporter.</summary>
    public static Props Props(TextWriter output, MetricsWriter? metrics, TaskCompletionSource<TrainingCompleted> completion, TaskCompletionSource started) =>
        Akka.Actor.Props.Create(() => new RunReporter(output, metrics, completion, started));

    /// <summary>Creates the reporter; use <see cref="Props"/>.</summary>
    public RunReporter(TextWriter output, MetricsWriter? metrics, TaskCompletionSource<TrainingCompleted> completion, TaskCompletionSource started)
    {
        Receive<EpochEnded>(e =>
        {
            output.WriteLine($"Epoch {e.Metrics.Epoch}/{e.TotalEpochs}");
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
            // News for whoever watches a standby node's console, which was quiet until then.
            if (e.Event == "took_over") output.WriteLine(e.Detail);
            metrics?.Write(new Dictionary<string, object?>
            {
                ["kind"] = "event",
                ["event"] = e.Event,
                ["detail"] = e.Detail,
                ["iteration"] = e.Iteration,
                ["time"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            });
        });
        Receive<IterationEnded>(_ => { started.TrySetResult(); });
        Receive<TrainingCompleted>(c =>
        {
            metrics?.Test(c.Test);
            completion.TrySetResult(c);
        });
        Receive<TrainingFailed>(f => completion.TrySetException(new Engine.EngineException($"training failed: {f.Reason}")));
    }
}
