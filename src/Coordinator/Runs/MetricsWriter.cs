using System.Text.Json;
using Distributed.Engine.Training;

namespace Distributed.Coordinator.Runs;

/// <summary>
/// Appends one JSON object per line to <c>metrics.jsonl</c>, each with a <c>kind</c>:
/// <c>"epoch"</c> rows (epoch, loss, accuracy, val_loss, val_accuracy, samples, seconds,
/// images_per_sec...) and <c>"test"</c> rows; later kinds (events) use the same file.
/// Each line is flushed as it is written, so a killed run keeps what it reported.
/// </summary>
public sealed class MetricsWriter : IDisposable
{
    private readonly string? _path;
    private readonly TextWriter? _echo;
    private StreamWriter? _writer;

    /// <summary>
    /// Appends to the file, which is opened at the first row: a standby coordinator node shares the
    /// run folder with the node that writes it until the standby takes over.
    /// </summary>
    /// <param name="path">The metrics file, or null for none.</param>
    /// <param name="echo">Also writes every row there as one JSON line (<c>train --json</c> on standard output), or null.</param>
    public MetricsWriter(string? path, TextWriter? echo = null)
    {
        _path = path;
        _echo = echo;
        if (path is not null) Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>A writer for the run folder's metrics (if any) and the <c>--json</c> stream (if any); null when there is neither.</summary>
    public static MetricsWriter? For(string? path, TextWriter? echo) => path is null && echo is null ? null : new MetricsWriter(path, echo);

    /// <summary>Writes an epoch row.</summary>
    public void Epoch(EpochMetrics m) => Write(EpochRow(m));

    /// <summary>The fields of an epoch row, for callers that add their own (e.g. <c>workers</c>).</summary>
    public static Dictionary<string, object?> EpochRow(EpochMetrics m) => new()
    {
        ["kind"] = "epoch",
        ["epoch"] = m.Epoch,
        ["loss"] = m.Loss,
        ["accuracy"] = m.Accuracy,
        ["val_loss"] = m.ValLoss,
        ["val_accuracy"] = m.ValAccuracy,
        ["samples"] = m.Samples,
        ["iterations"] = m.Iterations,
        ["seconds"] = Math.Round(m.Seconds, 3),
        ["images_per_sec"] = Math.Round(m.ImagesPerSecond, 1),
        ["learning_rate"] = m.LearningRate,
    };

    /// <summary>Writes the final test-set row.</summary>
    public void Test(EvaluationResult r) => Write(new Dictionary<string, object?>
    {
        ["kind"] = "test",
        ["loss"] = r.Loss,
        ["top1"] = r.Top1,
        ["top5"] = r.Top5,
        ["samples"] = r.Samples,
    });

    /// <summary>Writes any row; it must carry a <c>kind</c>.</summary>
    public void Write(IReadOnlyDictionary<string, object?> row)
    {
        if (!row.ContainsKey("kind")) throw new ArgumentException("a metrics row needs a 'kind'", nameof(row));
        string line = JsonSerializer.Serialize(row);
        if (_path is not null)
        {
            _writer ??= new StreamWriter(new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
            _writer.WriteLine(line);
        }
        if (_echo is not null)
        {
            _echo.WriteLine(line);
            _echo.Flush();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _writer?.Dispose();
}
