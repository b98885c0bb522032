using Distributed.Coordinator.Cli;
using Serilog.Core;
using Serilog.Events;

namespace Distributed.Coordinator.Logging;

/// <summary>
/// Passes console log events on, clearing the live progress line first and drawing it again after
/// (<see cref="ProgressBar.WriteAbove"/>), so that a warning during training gets a line of its own.
/// </summary>
public sealed class AboveProgressBar(Logger console) : ILogEventSink, IDisposable
{
    /// <inheritdoc/>
    public void Emit(LogEvent logEvent)
    {
        if (ProgressBar.Live is { } bar) bar.WriteAbove(() => console.Write(logEvent));
        else console.Write(logEvent);
    }

    /// <inheritdoc/>
    public void Dispose() => console.Dispose();
}
