using Distributed.Coordinator.Cli;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Tests;

/// <summary>Runs the CLI in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public static string SliceDirectory => Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-slice");

    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = CommandRouter.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}
