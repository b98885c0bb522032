namespace Distributed.Worker;

/// <summary>
/// The worker executable. It will join a cluster (<c>--seed-node</c>) and compute gradient
/// shards on the local engine; this build has the engine only, so it explains that and exits.
/// </summary>
public static class Program
{
    private const string Help = """
        Usage: Distributed.Worker --seed-node akka.tcp://distributed@HOST:PORT [--threads T] [--data-dir DIR]

        A worker process of the training cluster. This build contains the single-process
        engine only; to train now, run: Distributed.Coordinator train --single-process
        """;

    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.Out.WriteLine(Help);
            return 0;
        }
        Console.Error.WriteLine("error: this build has no cluster runtime yet; use 'Distributed.Coordinator train --single-process'");
        return 2;
    }
}
