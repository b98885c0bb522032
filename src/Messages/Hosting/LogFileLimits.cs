namespace Distributed.Messages.Hosting;

/// <summary>
/// Bounds on a node's log files, so that a flood of warnings (a peer sending garbage for days) fills at most
/// <see cref="FileBytes"/> × <see cref="RetainedFiles"/> of disk: files roll at the size limit and the oldest are deleted.
/// </summary>
public static class LogFileLimits
{
    /// <summary>Size at which a log file rolls over to the next (64 MiB).</summary>
    public const long FileBytes = 64L << 20;

    /// <summary>Log files kept per node, the current one included (8: at most 512 MiB).</summary>
    public const int RetainedFiles = 8;
}
