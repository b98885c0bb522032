using Distributed.Coordinator.Commands;
using Distributed.Engine;
using Serilog;

using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Cli;

/// <summary>
/// Dispatches a command line to its command and turns failures into one clear line and an
/// exit code: 2 for a bad command line, 1 for a failure; a stack trace only with --verbose.
/// </summary>
public static class CommandRouter
{
    /// <summary>Top-level usage.</summary>
    public const string Help = """
        Usage: Distributed.Coordinator <command> [options]

        Commands:
          summary   print a model's Keras-style summary
          train     train a model on Fashion-MNIST
          evaluate  test-set figures of a checkpoint
          export    a checkpoint's network as an ONNX model
          certs     a cluster CA and node certificates for mutual TLS (--tls-dir)

        Run '<command> --help' for the options of a command.
        """;

    /// <summary>Runs the command line; returns the process exit code.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="interactive">Standard output is a terminal (train then draws a live progress line).</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, bool interactive = false)
    {
        bool verbose = args.Contains("--verbose") || Environment.GetEnvironmentVariable(OptionSources.VariableOf("--verbose")) is "1" or "true";
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            (args.Length == 0 ? error : output).WriteLine(Help);
            return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok;
        }
        var (command, help) = args[0] switch
        {
            "summary" => ((Func<ArgumentReader, TextWriter, int>)SummaryCommand.Run, SummaryCommand.Help),
            "train" => ((reader, o) => TrainCommand.Run(reader, new CliConsole(o, error, interactive)), TrainCommand.Help),
            "evaluate" => (EvaluateCommand.Run, EvaluateCommand.Help),
            "export" => (ExportCommand.Run, ExportCommand.Help),
            "certs" => (CertsCommand.Run, CertsCommand.Help),
            _ => (null, ""),
        };
        if (command is null)
        {
            error.WriteLine($"error: unknown command '{args[0]}'; the commands are summary, train, evaluate, export and certs");
            return ExitCodes.Usage;
        }
        var rest = args.Skip(1).ToArray();
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            output.WriteLine(help);
            return ExitCodes.Ok;
        }
        try
        {
            return command(new ArgumentReader(rest), output);
        }
        catch (UsageException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (EngineException e)
        {
            Log.Debug(e, "{Command} failed", args[0]);
            error.WriteLine($"error: {e.Message}");
            if (verbose) error.WriteLine(e);
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            Log.Debug(e, "{Command} failed", args[0]);
            error.WriteLine($"error: {e.Message}" + (verbose ? "" : " (run with --verbose for details)"));
            if (verbose) error.WriteLine(e);
            return ExitCodes.Failure;
        }
        finally
        {
            Log.CloseAndFlush();
        }
    }
}
