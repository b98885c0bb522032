using BenchmarkDotNet.Running;

namespace Distributed.Engine.Benchmarks;

/// <summary>Entry point: <c>dotnet run -c Release -- --filter *</c> (or pick benchmarks interactively).</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
