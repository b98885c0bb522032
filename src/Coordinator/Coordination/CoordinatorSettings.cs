using Akka.Actor;
using Distributed.Engine.Data;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.Coordination;

/// <summary>
/// What the coordinator actor needs: the plan, the local copy of the data (for the epoch
/// order, validation and test), worker limits, where checkpoints go and whom to report to.
/// </summary>
public sealed record CoordinatorSettings(
    RunPlan Plan,
    Dataset Train,
    Dataset Test,
    int MinWorkers,
    int MaxWorkers,
    string? CheckpointDirectory,
    IActorRef Reporter,
    IActorRef ParameterServer)
{
    /// <summary>
    /// How long a shard may take before its speed is known (the first iterations); once measured, a shard
    /// is overdue after five times its expected time (at least <see cref="MinimumShardTimeout"/>). An
    /// overdue shard is given to another worker and its worker gets no new shards for a while.
    /// </summary>
    public TimeSpan ShardTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fewer live workers than this pause the run before its next iteration (default 1).</summary>
    public int MinLiveWorkers { get; init; } = 1;

    /// <summary>Besides each epoch's end, checkpoint every this many iterations (0: only at epoch ends).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Where a resumed run continues (<c>train --resume</c>), or null for a fresh run.</summary>
    public Runs.ResumePoint? Resume { get; init; }

    /// <summary>
    /// Set on a standby coordinator node (<c>train --standby</c>): called when the coordinator starts there,
    /// which is when the first coordinator node is gone, to find where the run continues; it replaces
    /// <see cref="Resume"/>.
    /// </summary>
    public Func<TakeOver>? TakeOver { get; init; }

    /// <summary>The shortest time-out of a shard whose speed is measured.</summary>
    public TimeSpan MinimumShardTimeout { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>Where a coordinator that takes over on a standby node continues.</summary>
/// <param name="Finished">The run finished on the first node (its final checkpoint exists): nothing to do.</param>
/// <param name="Resume">The newest checkpoint that loads, or null to start the run from its beginning.</param>
public sealed record TakeOver(bool Finished, Runs.ResumePoint? Resume);
