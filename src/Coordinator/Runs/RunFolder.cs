using Distributed.Engine.Checkpoints;

namespace Distributed.Coordinator.Runs;

/// <summary>
/// The <c>--out</c> folder of a run: <c>metrics.jsonl</c>, <c>checkpoints/</c> (one per epoch, the
/// last <see cref="KeepEpochCheckpoints"/> kept, and <c>final.ckpt</c>) and <c>logs/</c>.
/// </summary>
public sealed class RunFolder
{
    /// <summary>How many per-epoch checkpoints are kept besides final.ckpt.</summary>
    public const int KeepEpochCheckpoints = 3;

    /// <summary>The start of every epoch checkpoint's file name.</summary>
    public const string EpochPrefix = "epoch-";

    /// <summary>The file name of a finished run's last checkpoint.</summary>
    public const string FinalFileName = "final.ckpt";

    /// <summary>The file name of the checkpoint written when epoch <paramref name="epoch"/> (1-based) ended.</summary>
    public static string EpochFileName(int epoch) => $"{EpochPrefix}{epoch:D4}.ckpt";

    /// <summary>True for an epoch checkpoint's path.</summary>
    public static bool IsEpochCheckpoint(string path) => Path.GetFileName(path).StartsWith(EpochPrefix, StringComparison.Ordinal);

    /// <summary>Creates the folder and its sub-folders.</summary>
    public RunFolder(string path)
    {
        Root = Path.GetFullPath(path);
        try
        {
            Directory.CreateDirectory(CheckpointDirectory);
            Directory.CreateDirectory(LogDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Engine.EngineException($"--out {path}: cannot create the run folder: {e.Message}", e);
        }
    }

    /// <summary>The empty file that marks a default run folder as taken (<see cref="NewDefault"/>).</summary>
    public const string ClaimFileName = ".run";

    /// <summary>
    /// A fresh folder for a run without <c>--out</c>: <c>runs/&lt;yyyyMMdd-HHmmss&gt;-&lt;model&gt;</c> under the
    /// working directory (local time), with <c>-2</c>, <c>-3</c>... when that exists already.
    /// </summary>
    public static string NewDefault(string model)
    {
        string stem = string.Concat(Path.GetFileNameWithoutExtension(model).Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        string first = Path.Combine("runs", $"{DateTime.Now:yyyyMMdd-HHmmss}-{stem}");
        for (int k = 1; ; k++)
        {
            string candidate = k == 1 ? first : $"{first}-{k}";
            if (Directory.Exists(candidate)) continue;
            Directory.CreateDirectory(candidate);
            // Two runs started in the same second: whoever creates the marker first owns the folder.
            try { using (File.Open(Path.Combine(candidate, ClaimFileName), FileMode.CreateNew)) { } }
            catch (IOException) { continue; }
            return candidate;
        }
    }

    /// <summary>Absolute path of the folder.</summary>
    public string Root { get; }

    /// <summary>The checkpoints folder.</summary>
    public string CheckpointDirectory => Path.Combine(Root, "checkpoints");

    /// <summary>The logs folder.</summary>
    public string LogDirectory => Path.Combine(Root, "logs");

    /// <summary>The metrics file.</summary>
    public string MetricsPath => Path.Combine(Root, "metrics.jsonl");

    /// <summary>The training curves picture of a finished run.</summary>
    public string CurvesPath => Path.Combine(Root, "curves.png");

    /// <summary>The test-set confusion matrix picture of a finished run.</summary>
    public string ConfusionPath => Path.Combine(Root, "confusion.png");

    /// <summary>The report that ties the run's figures and pictures together.</summary>
    public string ReportPath => Path.Combine(Root, "report.md");

    /// <summary>The last checkpoint of a finished run.</summary>
    public string FinalCheckpointPath => Path.Combine(CheckpointDirectory, FinalFileName);

    /// <summary>Writes the checkpoint of an epoch and prunes older epoch checkpoints.</summary>
    public string SaveEpoch(Checkpoint checkpoint, int epoch)
    {
        string path = Path.Combine(CheckpointDirectory, EpochFileName(epoch));
        checkpoint.Save(path);
        PruneEpochCheckpoints(CheckpointDirectory);
        return path;
    }

    /// <summary>
    /// Deletes all but the newest <see cref="KeepEpochCheckpoints"/> epoch checkpoints (<c>epoch-*.ckpt</c>) of
    /// <paramref name="checkpointDirectory"/>; returns the paths deleted.
    /// </summary>
    public static IReadOnlyList<string> PruneEpochCheckpoints(string checkpointDirectory)
    {
        var old = Directory.GetFiles(checkpointDirectory, EpochPrefix + "*.ckpt").Order(StringComparer.Ordinal).ToList();
        var doomed = old.Take(Math.Max(0, old.Count - KeepEpochCheckpoints)).ToList();
        foreach (var f in doomed) File.Delete(f);
        return doomed;
    }
}
