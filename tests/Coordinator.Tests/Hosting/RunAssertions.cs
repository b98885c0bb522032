using System.Text.Json;
using Distributed.Engine.Checkpoints;

namespace Distributed.Coordinator.Tests.Hosting;

/// <summary>What the real-process fault tests check in run folders.</summary>
internal static class RunAssertions
{
    /// <summary>Both runs' final checkpoints are of the same iteration with weights within 1e-5 relative.</summary>
    public static void SameFinalWeights(string expectedRun, string actualRun, string how)
    {
        var expected = Checkpoint.Load(Path.Combine(expectedRun, "checkpoints", "final.ckpt"));
        var actual = Checkpoint.Load(Path.Combine(actualRun, "checkpoints", "final.ckpt"));
        Assert.Equal(expected.Header.Iteration, actual.Header.Iteration);
        for (int i = 0; i < expected.Weights.Length; i++)
        {
            double relative = Math.Abs(expected.Weights[i] - actual.Weights[i]) / Math.Max(Math.Abs(expected.Weights[i]), 1e-2);
            Assert.True(relative <= 1e-5, $"weight {i}: {expected.Weights[i]} uninterrupted, {actual.Weights[i]} {how}");
        }
    }

    /// <summary>The run's epoch rows are epochs 1..N in order, each with every one of <paramref name="samples"/> training samples.</summary>
    public static void EveryEpochOnceWithAllSamples(string run, int epochs, int samples)
    {
        var rows = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.GetProperty("kind").GetString() == "epoch").ToList();
        Assert.Equal(Enumerable.Range(1, epochs), rows.Select(e => e.GetProperty("epoch").GetInt32()));
        Assert.All(rows, e => Assert.Equal(samples, e.GetProperty("samples").GetInt32()));
    }
}
