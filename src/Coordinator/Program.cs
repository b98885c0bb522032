using Distributed.Coordinator.Cli;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator;

/// <summary>The user CLI: <c>summary</c>, <c>train</c>, <c>evaluate</c> and <c>export</c>.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args) => CommandRouter.Run(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected);
}
