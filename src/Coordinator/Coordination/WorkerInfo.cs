namespace Distributed.Coordinator.Coordination;

/// <summary>What the coordinator knows of one registered worker.</summary>
internal sealed class WorkerInfo(string id)
{
    /// <summary>The worker's id (logs, metrics, shard timings).</summary>
    public string Id { get; } = id;

    /// <summary>It built the plan's model and takes shards.</summary>
    public bool Ready { get; set; }

    /// <summary>Smoothed measured speed (samples per millisecond of compute), for the shard split.</summary>
    public double SamplesPerMs { get; set; } = 1.0;

    /// <summary>True once a shard of it was accepted, so <see cref="SamplesPerMs"/> is measured.</summary>
    public bool Measured { get; set; }

    /// <summary>Shards rejected or failed since its last accepted one.</summary>
    public int Strikes { get; set; }

    /// <summary>Until when it gets no new shards (a shard of it was overdue).</summary>
    public DateTime SuspectUntil { get; set; }
}
