using Akka.Actor;
using Akka.Event;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.Coordination;

// The coordinator's fault handling: shards that fail, are rejected or are overdue go to other
// workers; workers that leave, stall or misbehave stop getting work.
public sealed partial class CoordinatorActor
{
    // The workers that take shards now, as reported per epoch: a killed or stopped one on probation is
    // still registered until the cluster downs it, but it no longer counts.
    private int WorkingCount => ReadyWorkers.Count(w => _workers[w].SuspectUntil <= DateTime.UtcNow);

    // Workers that may get new shards: not on probation after an overdue shard (unless all are).
    private List<IActorRef> Dispatchable(List<IActorRef> ready)
    {
        var now = DateTime.UtcNow;
        var trusted = ready.Where(w => _workers[w].SuspectUntil <= now).ToList();
        return trusted.Count > 0 ? trusted : ready;
    }

    // The iteration's outstanding shards are overdue after the slowest one's expected time, five times over.
    private TimeSpan Deadline()
    {
        var longest = TimeSpan.Zero;
        foreach (var (message, worker) in _outstanding.Values)
        {
            var limit = _workers.TryGetValue(worker, out var info) && info.Measured
                ? TimeSpan.FromMilliseconds(Math.Max(_settings.MinimumShardTimeout.TotalMilliseconds, 5 * message.SampleIndices.Length / info.SamplesPerMs))
                : _settings.ShardTimeout;
            if (limit > longest) longest = limit;
        }
        return longest;
    }

    private void OnOverdue(ShardsOverdue overdue)
    {
        if (overdue.Iteration != _iteration || _outstanding.Count == 0) return;
        foreach (var (shardId, entry) in _outstanding.ToList())
        {
            string worker = _workers.TryGetValue(entry.Worker, out var info) ? info.Id : "a worker that left";
            if (info is not null) info.SuspectUntil = DateTime.UtcNow + Probation;
            _log.Warning("Run {RunId}: shard {Shard} of iteration {Iteration} on {Worker} is not back after {Seconds:F1} s; giving it to another worker",
                RunId, shardId, _iteration, worker, overdue.After.TotalSeconds);
            Report(new RunEvent(RunId, "shard_timed_out", $"shard {shardId} of iteration {_iteration} on {worker}: not back after {overdue.After.TotalSeconds:F1} s", _iteration));
            Reassign(shardId, entry.Message, entry.Worker);
            // Its request for the next iteration, sent ahead, would hold that one up as well.
            ReassignWhere(w => w.Equals(entry.Worker), aheadOnly: true);
        }
        // The new assignees may be slow too: wait twice as long before the next round.
        var next = overdue.After * 2;
        Timers.StartSingleTimer("overdue", new ShardsOverdue(_iteration, next), next);
    }

    private void OnShardRejected(ShardRejected rejected)
    {
        if (rejected.RunId != RunId || rejected.Iteration != _iteration || !_outstanding.TryGetValue(rejected.ShardId, out var entry)) return;
        // A result of a worker the shard was taken from (it left, or failed before): the new one's is awaited.
        if (!_workers.TryGetValue(entry.Worker, out var assignee) || assignee.Id != rejected.WorkerId) return;
        Report(new RunEvent(RunId, "shard_rejected", $"shard {rejected.ShardId} from {rejected.WorkerId}: {rejected.Reason}", _iteration));
        Reassign(rejected.ShardId, entry.Message, entry.Worker);
        Strike(WorkerNamed(rejected.WorkerId).Worker, rejected.Reason);
    }

    // A bad peer (non-finite or malformed results, computations that throw) would have its shards
    // computed again for ever: after MaxStrikes in a row it is told to leave and no longer gets work.
    private void Strike(IActorRef? worker, string reason)
    {
        if (worker is null || !_workers.TryGetValue(worker, out var info) || ++info.Strikes < MaxStrikes) return;
        string why = $"{info.Strikes} shards in a row were rejected or failed, the last: {reason}";
        _log.Error("Run {RunId}: excluded worker {Worker}: {Reason}", RunId, info.Id, why);
        Report(new RunEvent(RunId, "worker_excluded", $"{info.Id}: {why}", _iteration));
        worker.Tell(new RunFinished(RunId, false, $"excluded from the run: {why}"));
        RemoveWorker(worker);
    }

    private void OnShardFailed(ShardFailed failed)
    {
        if (failed.RunId != RunId) return;
        var into = failed.Iteration == _iteration ? _outstanding : failed.Iteration == _aheadIteration ? _ahead : null;
        if (into is null || !into.TryGetValue(failed.ShardId, out var entry) || !entry.Worker.Equals(Sender)) return;
        Report(new RunEvent(RunId, "shard_failed", $"shard {failed.ShardId} of iteration {failed.Iteration} on {failed.WorkerId}: {failed.Reason}", _iteration));
        Reassign(failed.ShardId, entry.Message, entry.Worker, into);
        Strike(Sender, failed.Reason);
    }

    private void Reassign(int shardId, ComputeGradients message, IActorRef previous) => Reassign(shardId, message, previous, _outstanding);

    private void Reassign(int shardId, ComputeGradients message, IActorRef previous, Dictionary<int, (ComputeGradients Message, IActorRef Worker)> into)
    {
        var candidates = ReadyWorkers.ToList();
        if (candidates.Count == 0)
        {
            // Kept under the worker that left: the next worker that is ready takes it (OnReady).
            into[shardId] = (message, previous);
            _log.Warning("Run {RunId}: no live worker for shard {Shard} of iteration {Iteration}; waiting for one to join", RunId, shardId, message.Iteration);
            Report(new RunEvent(RunId, "paused", $"no live worker for shard {shardId} of iteration {message.Iteration}", _iteration));
            return;
        }
        var target = Dispatchable(candidates).FirstOrDefault(w => !w.Equals(previous)) ?? candidates.FirstOrDefault(w => !w.Equals(previous)) ?? candidates[0];
        into[shardId] = (message, target);
        Report(new RunEvent(RunId, "shard_reassigned", $"shard {shardId} of iteration {message.Iteration} ({message.SampleIndices.Length} samples) to {_workers[target].Id}", _iteration));
        target.Tell(message);
    }

    private void RemoveWorker(IActorRef worker)
    {
        if (!_workers.Remove(worker)) return;
        Context.Unwatch(worker);
        if (_epochStart == default) return;
        _settings.ParameterServer.Tell(new WorkersChanged(RunId, [.. ReadyWorkers]));
        ReassignWhere(w => w.Equals(worker));
    }

    // Gives every request of this iteration (and of the next, sent ahead) whose worker matches to another worker.
    private void ReassignWhere(Func<IActorRef, bool> holder, bool aheadOnly = false)
    {
        if (!aheadOnly)
            foreach (var (shardId, entry) in _outstanding.Where(o => holder(o.Value.Worker)).ToList())
                Reassign(shardId, entry.Message, entry.Worker);
        foreach (var (shardId, entry) in _ahead.Where(o => holder(o.Value.Worker)).ToList())
            Reassign(shardId, entry.Message, entry.Worker, _ahead);
    }

    // The registered worker with this id, if any.
    private (IActorRef? Worker, WorkerInfo? Info) WorkerNamed(string workerId)
    {
        foreach (var (worker, info) in _workers)
            if (info.Id == workerId) return (worker, info);
        return (null, null);
    }
}
