using System.Text.Json;

namespace Distributed.Coordinator.Runs;

/// <summary>One <c>kind: "epoch"</c> row of a run's <c>metrics.jsonl</c>; validation figures are absent without a validation split.</summary>
public sealed record EpochRow(int Epoch, double Loss, double Accuracy, double? ValLoss, double? ValAccuracy, int Samples, double Seconds, double ImagesPerSecond)
{
    /// <summary>The epoch rows of a metrics file, in file order; when an epoch appears more than once (a resumed run) the last row counts.</summary>
    public static IReadOnlyList<EpochRow> ReadAll(string metricsPath)
    {
        var rows = new SortedDictionary<int, EpochRow>();
        foreach (string line in File.ReadLines(metricsPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument document;
            // A line torn by a SIGKILL (before a resume) is skipped, not fatal.
            try { document = JsonDocument.Parse(line); }
            catch (JsonException) { continue; }
            using var _ = document;
            var r = document.RootElement;
            if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("kind", out var kind) || kind.ValueKind != JsonValueKind.String || kind.GetString() != "epoch") continue;
            double? Optional(string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
            int epoch = r.GetProperty("epoch").GetInt32();
            rows[epoch] = new EpochRow(epoch, r.GetProperty("loss").GetDouble(), r.GetProperty("accuracy").GetDouble(), Optional("val_loss"), Optional("val_accuracy"),
                r.TryGetProperty("samples", out var s) ? s.GetInt32() : 0, Optional("seconds") ?? 0, Optional("images_per_sec") ?? 0);
        }
        return [.. rows.Values];
    }
}
