using Akka.Event;

namespace Distributed.Coordinator.Coordination;

/// <summary>
/// The periodic checkpoints of a run (<c>checkpoints/iter-*.ckpt</c>, written every
/// <c>--checkpoint-every</c> iterations): the last <see cref="Keep"/> are kept, and none once the
/// run's final checkpoint is written. Epoch checkpoints are not its business.
/// </summary>
internal sealed class PeriodicCheckpoints(string runId, ILoggingAdapter log)
{
    /// <summary>How many periodic checkpoints are kept.</summary>
    public const int Keep = 3;

    /// <summary>The start of every periodic checkpoint's file name.</summary>
    public const string Prefix = "iter-";

    private readonly Queue<string> _written = new();

    /// <summary>The file name of the checkpoint after <paramref name="iteration"/> iterations.</summary>
    public static string FileName(long iteration) => $"{Prefix}{iteration:D9}.ckpt";

    /// <summary>True for a periodic checkpoint's path.</summary>
    public static bool IsPeriodic(string path) => Path.GetFileName(path).StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>Records a written checkpoint and deletes the oldest beyond <see cref="Keep"/>.</summary>
    public void Written(string path)
    {
        _written.Enqueue(path);
        while (_written.Count > Keep) TryDelete(_written.Dequeue());
    }

    /// <summary>Deletes every periodic checkpoint of the run (it finished).</summary>
    public void DeleteAll()
    {
        while (_written.Count > 0) TryDelete(_written.Dequeue());
    }

    private void TryDelete(string checkpoint)
    {
        try { File.Delete(checkpoint); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning("Run {RunId}: cannot delete the old checkpoint {Path}: {Reason}", runId, checkpoint, e.Message);
        }
    }
}
