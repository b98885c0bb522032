namespace Distributed.Coordinator.Coordination;

/// <summary>
/// Splits a global batch of <c>m</c> micro-shards over workers in proportion to their measured
/// speed (samples per millisecond), as contiguous runs of micro-shards in worker order. Every
/// worker that gets work gets at least one micro-shard; the largest-remainder rule hands out
/// what rounding leaves. Shard boundaries only fall between micro-shards, whose sums are exact,
/// so the split never changes the result.
/// </summary>
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
        if (microShards <= n)
        {
            // Fewer micro-shards than workers: one each to the fastest.
            foreach (int i in Enumerable.Range(0, n).OrderByDescending(i => speeds[i]).ThenBy(i => i).Take(microShards)) counts[i] = 1;
            return counts;
        }
        double total = speeds.Sum(s => Math.Max(s, 1e-9));
        var remainders = new double[n];
        int assigned = 0;
        for (int i = 0; i < n; i++)
        {
            double exact = microShards * Math.Max(speeds[i], 1e-9) / total;
            counts[i] = Math.Max(1, (int)Math.Floor(exact));
            remainders[i] = exact - Math.Floor(exact);
            assigned += counts[i];
        }
        // Take back from the slowest while over (the minimum of one can overshoot), give to the largest remainders while under.
        while (assigned > microShards)
        {
            int i = Enumerable.Range(0, n).Where(j => counts[j] > 1).OrderBy(j => speeds[j]).First();
            counts[i]--;
            assigned--;
        }
        foreach (int i in Enumerable.Range(0, n).OrderByDescending(i => remainders[i]).ThenBy(i => i))
        {
            if (assigned == microShards) break;
            counts[i]++;
            assigned++;
        }
        while (assigned < microShards)
        {
            int i = Enumerable.Range(0, n).OrderByDescending(j => speeds[j]).First();
            counts[i]++;
            assigned++;
        }
        return counts;
    }
}
