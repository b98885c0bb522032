using Serilog;
using Serilog.Events;

namespace Distributed.Coordinator.Logging;

/// <summary>
/// Serilog configuration of the coordinator process: warnings and errors to stderr (all
/// levels with --verbose), and every event to a per-node file in the run folder when there is one.
/// </summary>
public static class LogSetup
{
    /// <summary>
    /// Akka's own warnings (a singleton proxy still looking, a peer that went away at shutdown)
    /// belong in the log file, not on the user's terminal; its errors still show, except the
    /// 'Disassociated' a departing node causes.
    /// </summary>
    public static bool IsAkkaChatter(LogEvent e) =>
        e.Properties.ContainsKey("LogSource") && (e.Level < LogEventLevel.Error || e.Exception?.GetType().Name == "EndpointDisassociatedException");

    /// <summary>Configures the global logger.</summary>
    public static void Configure(bool verbose, string? logDirectory, string node = "coordinator")
    {
        var config = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .Enrich.WithProperty("Node", node)
            .Enrich.WithProperty("Role", "coordinator")
            .WriteTo.Logger(console => console
                .Filter.ByExcluding(e => !verbose && IsAkkaChatter(e))
                .WriteTo.Sink(new AboveProgressBar(new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Console(
                    restrictedToMinimumLevel: verbose ? LogEventLevel.Debug : LogEventLevel.Warning,
                    standardErrorFromLevel: LogEventLevel.Verbose,
                    // One line per event on the console; stack traces go to the log file (or here with --verbose).
                    outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}" + (verbose ? "{Exception}" : "")).CreateLogger())));
        if (logDirectory is not null)
            config = config.WriteTo.File(Path.Combine(logDirectory, node + ".log"),
                fileSizeLimitBytes: Messages.Hosting.LogFileLimits.FileBytes, rollOnFileSizeLimit: true,
                retainedFileCountLimit: Messages.Hosting.LogFileLimits.RetainedFiles,
                outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} [{Level:u3}] [{Node}] {Message:lj} {Properties}{NewLine}{Exception}");
        Log.Logger = config.CreateLogger();
    }
}
