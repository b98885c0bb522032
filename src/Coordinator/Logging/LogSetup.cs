using Serilog;
using Serilog.Events;

namespace Distributed.Coordinator.Logging;

/// <summary>
/// Serilog configuration of the coordinator process: warnings and errors to stderr (all
/// levels with --verbose), and every event to a per-node file in the run folder when there is one.
/// </summary>
public static class LogSetup
{
    /// <summary>Configures the global logger.</summary>
    public static void Configure(bool verbose, string? logDirectory, string node = "coordinator")
    {
        var config = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .Enrich.WithProperty("Node", node)
            .WriteTo.Console(
                restrictedToMinimumLevel: verbose ? LogEventLevel.Debug : LogEventLevel.Warning,
                standardErrorFromLevel: LogEventLevel.Verbose,
                outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}{Exception}");
        if (logDirectory is not null)
            config = config.WriteTo.File(Path.Combine(logDirectory, node + ".log"),
                outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} [{Level:u3}] [{Node}] {Message:lj} {Properties}{NewLine}{Exception}");
        Log.Logger = config.CreateLogger();
    }
}
