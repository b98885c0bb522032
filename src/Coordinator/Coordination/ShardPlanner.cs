namespace Distributed.Coordinator.Coordination;

/// <summary>
/// Splits a global batch of <c>m</c> micro-shards over workers by their measured speed (samples per
/// millisecond), as contiguous runs of micro-shards in worker order. Every worker gets at least one
/// micro-shard (so that its speed keeps being measured, and a worker that recovers gets more again);
/// within that, the slowest worker's predicted time (its micro-shards divided by its speed) is as
/// small as it can be. A worker far slower than the rest still costs one micro-shard's time; the
/// shard time-out (five times its measured time) bounds a worker that stalls. Shard boundaries only fall between micro-shards,
/// whose sums are exact, so the split never changes the result.
/// </summary>
/// <remarks>
/// Minimising the maximum matters more than a close proportional share: a worker at a fifth of the
/// total speed has an exact share of 1.66 of 8 micro-shards, which rounds to 2 and makes it the last to
/// finish (2 / 0.11 = 18.2 against 6 / 0.42 = 14.3, micro-shards over speed); 1 and 7 finish at 16.7. Each
/// micro-shard after every worker's first goes to the worker that would finish it earliest
/// (water-filling), which is optimal for times proportional to the work; ties go to the faster worker,
/// then to the lower index, so the split is deterministic.
/// </remarks>
public static class ShardPlanner
{
    /// <summary>Micro-shard counts per worker (same order as <paramref name="speeds"/>); zero for workers left out.</summary>
    public static int[] Split(int microShards, IReadOnlyList<double> speeds)
    {
        ArgumentNullException.ThrowIfNull(speeds);
        if (speeds.Count == 0) throw new ArgumentException("no workers", nameof(speeds));
        if (microShards <= 0) throw new ArgumentOutOfRangeException(nameof(microShards));
        int n = speeds.Count;
        var counts = new int[n];
        var speed = new double[n];
        for (int i = 0; i < n; i++) speed[i] = double.IsFinite(speeds[i]) ? Math.Max(speeds[i], 1e-9) : 1e-9;
        if (microShards <= n)
        {
            // Fewer micro-shards than workers: one each to the fastest.
            foreach (int i in Enumerable.Range(0, n).OrderByDescending(i => speed[i]).ThenBy(i => i).Take(microShards)) counts[i] = 1;
            return counts;
        }
        Array.Fill(counts, 1);
        for (int assigned = n; assigned < microShards; assigned++)
        {
            int best = 0;
            double bestFinish = double.MaxValue;
            for (int i = 0; i < n; i++)
            {
                double finish = (counts[i] + 1) / speed[i];
                if (finish < bestFinish || (finish == bestFinish && speed[i] > speed[best]))
                {
                    best = i;
                    bestFinish = finish;
                }
            }
            counts[best]++;
        }
        return counts;
    }
}
