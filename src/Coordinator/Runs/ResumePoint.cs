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
/// <param name="Skipped">Newer checkpoints that were tried and did not load, each with why (older ones are not read).</param>
public sealed record ResumePoint(string Path, long Iteration, int EpochSamples, long EpochCorrect, double EpochLossSum, IReadOnlyList<string> Skipped)
{
    /// <summary>The file in a run folder that records the <c>train</c> arguments, for <c>--resume</c>.</summary>
    public const string CommandFile = "command.json";

    /// <summary>
    /// The newest loadable checkpoint in <paramref name="checkpointDirectory"/> (periodic ones, <c>iter-*.ckpt</c>,
    /// and epoch ones, <c>epoch-*.ckpt</c>, compared by their iteration), or null when there is none. Only the
    /// newest file of each kind is read, and older ones in turn while those are damaged.
    /// </summary>
    public static ResumePoint? Find(string checkpointDirectory)
    {
        if (!Directory.Exists(checkpointDirectory)) return null;
        var skipped = new List<string>();
        // final.ckpt is left out: a run that wrote it is finished. On a tie the epoch's checkpoint wins (listed first).
        var newest = new[] { NewestLoadable(checkpointDirectory, RunFolder.EpochPrefix, skipped), NewestLoadable(checkpointDirectory, Coordination.PeriodicCheckpoints.Prefix, skipped) }
            .OfType<(string Path, Checkpoint Checkpoint)>()
            .OrderByDescending(c => c.Checkpoint.Header.Iteration)
            .ToList();
        if (newest.Count == 0) return null;
        var (best, checkpoint) = newest[0];
        var s = checkpoint.Header.Settings;
        int samples = s.TryGetValue(ResumeSettings.EpochSamples, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : 0;
        long correct = s.TryGetValue(ResumeSettings.EpochCorrect, out v) ? long.Parse(v, CultureInfo.InvariantCulture) : 0;
        double loss = s.TryGetValue(ResumeSettings.EpochLossSum, out v) ? double.Parse(v, CultureInfo.InvariantCulture) : 0;
        return new ResumePoint(best, checkpoint.Header.Iteration, samples, correct, loss, skipped);
    }

    // The file of this kind with the highest number in its name that loads; the damaged ones before it go to skipped.
    private static (string Path, Checkpoint Checkpoint)? NewestLoadable(string directory, string prefix, List<string> skipped)
    {
        var files = Directory.GetFiles(directory, prefix + "*.ckpt").OrderByDescending(f =>
            long.TryParse(System.IO.Path.GetFileNameWithoutExtension(f)[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : -1);
        foreach (var path in files)
        {
            try { return (path, Checkpoint.Load(path)); }
            catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
            {
                skipped.Add($"{System.IO.Path.GetFileName(path)}: {e.Message}");
            }
        }
        return null;
    }
}
