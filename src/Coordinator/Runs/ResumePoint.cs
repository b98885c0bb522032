using System.Globalization;
using Distributed.Engine;
using Distributed.Engine.Checkpoints;

namespace Distributed.Coordinator.Runs;

/// <summary>
/// Where <c>train --resume DIR</c> continues: the newest checkpoint of the run folder that loads (its
/// SHA-256 matches), older ones in turn when the newest is damaged, with the training position and
/// the epoch's figures so far.
/// </summary>
/// <param name="Path">The checkpoint file.</param>
/// <param name="Iteration">Iterations completed (the global iteration to run next).</param>
/// <param name="EpochSamples">Samples of the epoch that were trained before the checkpoint (0 at an epoch's end).</param>
/// <param name="EpochCorrect">Their top-1 hits.</param>
/// <param name="EpochLossSum">Their loss sum.</param>
/// <param name="Skipped">Checkpoints that did not load, each with why.</param>
public sealed record ResumePoint(string Path, long Iteration, int EpochSamples, long EpochCorrect, double EpochLossSum, IReadOnlyList<string> Skipped)
{
    /// <summary>The file in a run folder that records the <c>train</c> arguments, for <c>--resume</c>.</summary>
    public const string CommandFile = "command.json";

    /// <summary>
    /// The newest loadable checkpoint in <paramref name="checkpointDirectory"/> (periodic ones, <c>iter-*.ckpt</c>,
    /// and epoch ones, <c>epoch-*.ckpt</c>, ordered by their iteration), or null when there is none.
    /// </summary>
    public static ResumePoint? Find(string checkpointDirectory)
    {
        if (!Directory.Exists(checkpointDirectory)) return null;
        // final.ckpt is left out: a run that wrote it is finished.
        var candidates = Directory.GetFiles(checkpointDirectory, "*.ckpt")
            .Where(f => System.IO.Path.GetFileName(f) is var n && (n.StartsWith("iter-", StringComparison.Ordinal) || n.StartsWith("epoch-", StringComparison.Ordinal)))
            .ToList();
        var skipped = new List<string>();
        var loaded = new List<(string Path, Checkpoint Checkpoint)>();
        foreach (var path in candidates)
        {
            try { loaded.Add((path, Checkpoint.Load(path))); }
            catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
            {
                skipped.Add($"{System.IO.Path.GetFileName(path)}: {e.Message}");
            }
        }
        if (loaded.Count == 0) return null;
        var (best, checkpoint) = loaded.OrderByDescending(c => c.Checkpoint.Header.Iteration).ThenBy(c => c.Path.Contains("epoch-", StringComparison.Ordinal) ? 0 : 1).First();
        var s = checkpoint.Header.Settings;
        int samples = s.TryGetValue(ResumeSettings.EpochSamples, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : 0;
        long correct = s.TryGetValue(ResumeSettings.EpochCorrect, out v) ? long.Parse(v, CultureInfo.InvariantCulture) : 0;
        double loss = s.TryGetValue(ResumeSettings.EpochLossSum, out v) ? double.Parse(v, CultureInfo.InvariantCulture) : 0;
        return new ResumePoint(best, checkpoint.Header.Iteration, samples, correct, loss, skipped);
    }
}
