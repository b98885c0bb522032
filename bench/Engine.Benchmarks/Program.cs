using BenchmarkDotNet.Running;

namespace Distributed.Engine.Benchmarks;

/// <summary>
/// Entry point: <c>dotnet run -c Release -- --filter *</c> for the BenchmarkDotNet suites, or
/// <c>dotnet run -c Release -- train-throughput --model NAME --threads T --batch 128 --iterations N</c>
/// for end-to-end training images/s (<see cref="TrainThroughput"/>), or <c>thread-scaling --model NAME</c> for
/// T threads against one in a single run (<see cref="ThreadScaling"/>).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "train-throughput") return TrainThroughput.Run(args[1..]);
        if (args.Length > 0 && args[0] == "thread-scaling") return ThreadScaling.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
