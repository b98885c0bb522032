using System.Globalization;
using System.Text;
using Distributed.Engine.Checkpoints;
using Distributed.Engine.Models;
using Distributed.Engine.Training;

namespace Distributed.Coordinator.Runs;

/// <summary>
/// The end of a run: from the run folder's final checkpoint and <c>metrics.jsonl</c> it writes
/// <c>curves.png</c>, <c>confusion.png</c> (the test set, with class names) and <c>report.md</c>
/// (configuration, model summary, per-epoch table, final and per-class figures, the pictures).
/// </summary>
public static class RunReport
{
    /// <summary>Writes the three files; returns the report's path.</summary>
    /// <param name="run">A run folder whose <see cref="RunFolder.FinalCheckpointPath"/> exists.</param>
    /// <param name="dataDirectory">The Fashion-MNIST folder the run used (null: the default lookup).</param>
    public static string Write(RunFolder run, string? dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (checkpoint, model, test, result, confusion) = CheckpointEvaluation.Run(run.FinalCheckpointPath, dataDirectory);
        var epochs = EpochRow.ReadAll(run.MetricsPath);

        Charts.Curves(epochs, run.CurvesPath);
        Charts.Confusion(confusion, test.ClassNames, run.ConfusionPath);
        File.WriteAllText(run.ReportPath, Markdown(run, checkpoint.Header, model, epochs, result, confusion, test.ClassNames));
        return run.ReportPath;
    }

    /// <summary>
    /// <see cref="Write"/> at the end of a successful run; prints where the report is, or why it could not
    /// be written (the run's weights and metrics are already saved, so that is not a failure of the run).
    /// </summary>
    public static void WriteAfterRun(RunFolder run, string? dataDirectory, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        try { output.WriteLine($"report: {Write(run, dataDirectory)} (curves.png, confusion.png)"); }
        // Whatever goes wrong drawing the report (a damaged metrics row, a missing native library), the run is complete.
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Serilog.Log.Warning(e, "The run report of {Run} was not written", run.Root);
            output.WriteLine($"report: not written ({e.Message}); the checkpoints and metrics.jsonl are complete");
        }
    }

    private static string Markdown(RunFolder run, CheckpointHeader header, Sequential model, IReadOnlyList<EpochRow> epochs,
        EvaluationResult result, ConfusionMatrix confusion, IReadOnlyList<string> classNames)
    {
        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(text.ToString(CultureInfo.InvariantCulture));
        Line($"# Training report: {Path.GetFileName(run.Root)}");
        md.AppendLine();
        Line($"Test set ({result.Samples:N0} samples): **loss {result.Loss:F4}, top-1 {result.Top1:F4}, top-5 {result.Top5:F4}** after {header.Epoch} epochs ({header.Iteration:N0} iterations).");
        md.AppendLine();
        md.AppendLine("![Loss and accuracy per epoch](curves.png)");
        md.AppendLine();
        md.AppendLine("## Epochs");
        md.AppendLine();
        md.AppendLine("| epoch | loss | accuracy | val_loss | val_accuracy | samples | seconds | images/s |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        string Optional(double? v) => v is double d ? d.ToString("F4", CultureInfo.InvariantCulture) : "–";
        foreach (var e in epochs)
            Line($"| {e.Epoch} | {e.Loss:F4} | {e.Accuracy:F4} | {Optional(e.ValLoss)} | {Optional(e.ValAccuracy)} | {e.Samples} | {e.Seconds:F1} | {e.ImagesPerSecond:F0} |");
        md.AppendLine();
        md.AppendLine("## Test set by class");
        md.AppendLine();
        md.AppendLine("![Confusion matrix of the test set](confusion.png)");
        md.AppendLine();
        md.AppendLine("| class | accuracy | correct / samples |");
        md.AppendLine("|---|---:|---:|");
        for (int c = 0; c < confusion.Classes; c++)
            Line($"| {c} {classNames[c]} | {confusion.Recall(c):F4} | {confusion[c, c]} / {confusion.RowTotal(c)} |");
        md.AppendLine();
        md.AppendLine("Confusion matrix (rows: true class, columns: predicted class):");
        md.AppendLine();
        md.AppendLine("```");
        md.Append(confusion.Format(classNames));
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine("## Configuration");
        md.AppendLine();
        md.AppendLine("| setting | value |");
        md.AppendLine("|---|---|");
        foreach (var (key, value) in header.Settings.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            md.AppendLine($"| {key} | `{value.Replace("|", "\\|", StringComparison.Ordinal)}` |");
        md.AppendLine();
        md.AppendLine("## Model");
        md.AppendLine();
        md.AppendLine("```");
        md.Append(model.Summary());
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine("## Files");
        md.AppendLine();
        md.AppendLine("- `metrics.jsonl`: one JSON row per epoch, the test figures and the run's events");
        md.AppendLine($"- `checkpoints/{RunFolder.FinalFileName}`: the final weights (`evaluate --checkpoint`, `export --checkpoint … --onnx model.onnx`)");
        md.AppendLine("- `logs/`: one log per node");
        return md.ToString();
    }
}
