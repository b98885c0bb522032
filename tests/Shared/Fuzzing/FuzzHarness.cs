using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Distributed.Tests.Fuzzing;

/// <summary>One reader under fuzz: how cases are made, how they are decoded and what may be thrown.</summary>
internal sealed class FuzzTarget
{
    /// <summary>Names the target in the output and in failures.</summary>
    public required string Name { get; init; }

    /// <summary>Seed of the run; case <c>i</c> uses <see cref="FuzzHarness.CaseSeed"/>(Seed, i), so one case can be replayed alone.</summary>
    public required int Seed { get; init; }

    /// <summary>Case budget.</summary>
    public required int Cases { get; init; }

    /// <summary>Stops early (and says so) when the budget takes longer than this on a slow machine.</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Makes one case (input and the name of how it was made) from the case's own random source.</summary>
    public required Func<Random, (byte[] Input, string Kind)> Generate { get; init; }

    /// <summary>Decodes one input; returning normally means the input was accepted.</summary>
    public required Action<byte[]> Decode { get; init; }

    /// <summary>The exception types (exactly, not subclasses) a rejected input may throw.</summary>
    public required Type[] Expected { get; init; }

    /// <summary>Inputs decoded once before the run so first-use costs (JIT, caches, code generation) are not counted.</summary>
    public IReadOnlyList<byte[]> Warmup { get; init; } = [];

    /// <summary>Most bytes one decode may allocate for an input; by default 16 × its length + 1 MiB.</summary>
    public Func<byte[], long> AllocationBound { get; init; } = input => 16L * input.Length + (1 << 20);
}

/// <summary>What a run did, per target and per kind of input.</summary>
internal sealed record FuzzResult(string Target, int Ran, int Accepted, int Rejected, TimeSpan Elapsed, bool StoppedByTime);

/// <summary>
/// Runs a <see cref="FuzzTarget"/>: every case must decode or throw one of the expected types, and
/// no decode may allocate more than its bound (measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/>).
/// Any other exception fails with the seed, case index, kind and a hex dump prefix to replay it.
/// </summary>
internal static class FuzzHarness
{
    private static readonly Regex Numbers = new(@"\d+", RegexOptions.Compiled);

    /// <summary>The seed of case <paramref name="index"/> of a run seeded with <paramref name="seed"/>.</summary>
    public static int CaseSeed(int seed, int index) => unchecked(seed * 1_000_003 + index);

    /// <summary>Runs the target, writes a summary to <paramref name="output"/> and asserts every case passed.</summary>
    public static FuzzResult Run(FuzzTarget target, ITestOutputHelper output)
    {
        foreach (var input in target.Warmup) Attempt(target, input);

        var failures = new List<string>();
        var kinds = new SortedDictionary<string, (int Cases, int Accepted)>(StringComparer.Ordinal);
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        int ran = 0, accepted = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < target.Cases && failures.Count < 5; i++)
        {
            if (clock.Elapsed > target.TimeLimit) break;
            var (input, kind) = target.Generate(new Random(CaseSeed(target.Seed, i)));
            long before = GC.GetAllocatedBytesForCurrentThread();
            var error = Attempt(target, input);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            ran++;

            var (n, ok) = kinds.GetValueOrDefault(kind);
            kinds[kind] = (n + 1, ok + (error is null ? 1 : 0));
            if (error is null) accepted++;
            string outcome = error is null ? "accepted" : $"{error.GetType().Name}: {Shape(error.Message)}";
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;

            if (error is not null && !target.Expected.Contains(error.GetType()))
                failures.Add(Describe(target, i, kind, input, $"unexpected {error.GetType().FullName}: {error.Message}\n{Top(error.StackTrace)}"));
            long bound = target.AllocationBound(input);
            if (allocated > bound)
                failures.Add(Describe(target, i, kind, input, $"allocated {allocated:N0} bytes, more than the bound {bound:N0} ({(error is null ? "accepted" : error.GetType().Name + ": " + error.Message)})"));
        }
        clock.Stop();

        bool stoppedByTime = ran < target.Cases && failures.Count == 0;
        output.WriteLine($"{target.Name}: {ran:N0} of {target.Cases:N0} cases in {clock.Elapsed.TotalSeconds:F1} s (seed {target.Seed}){(stoppedByTime ? ", stopped by the time limit" : "")}: " +
                         $"{accepted:N0} accepted, {ran - accepted:N0} rejected");
        foreach (var (kind, (n, ok)) in kinds)
            output.WriteLine($"  {kind,-24} {n,7:N0} cases, {ok,6:N0} accepted");
        output.WriteLine("  outcomes (numbers shown as #):");
        foreach (var (outcome, count) in outcomes.OrderByDescending(o => o.Value).Take(40))
            output.WriteLine($"  {count,7:N0}  {outcome}");

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        // The budget is what the test promises; the time limit only keeps a very slow machine from hanging.
        Assert.True(ran == target.Cases || (stoppedByTime && ran >= target.Cases / 10), $"{target.Name}: only {ran} of {target.Cases} cases ran");
        return new FuzzResult(target.Name, ran, accepted, ran - accepted, clock.Elapsed, stoppedByTime);
    }

    /// <summary>Decodes once; returns what was thrown, or null.</summary>
    private static Exception? Attempt(FuzzTarget target, byte[] input)
    {
        try
        {
            target.Decode(input);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>Lowercase hex of the first <paramref name="count"/> bytes.</summary>
    public static string Hex(byte[] input, int count = 96) =>
        Convert.ToHexStringLower(input.AsSpan(0, Math.Min(count, input.Length))) + (input.Length > count ? "…" : "");

    private static string Describe(FuzzTarget target, int index, string kind, byte[] input, string problem) =>
        $"{target.Name}: seed {target.Seed}, case {index} (case seed {CaseSeed(target.Seed, index)}), kind {kind}, {input.Length} bytes: {problem}\n  input: {Hex(input)}";

    private static string Shape(string message)
    {
        string oneLine = message.ReplaceLineEndings(" ");
        string shaped = Numbers.Replace(oneLine.Length <= 110 ? oneLine : oneLine[..110], "#");
        return shaped;
    }

    private static string Top(string? stack)
    {
        if (stack is null) return "";
        var sb = new StringBuilder();
        foreach (var line in stack.Split('\n').Take(8)) sb.Append("    ").AppendLine(line.Trim());
        return sb.ToString();
    }
}
