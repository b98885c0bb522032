using Akka.Actor;
using Akka.Event;
using Distributed.Engine.Training;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.Coordination;

/// <summary>
/// The coordinator (a cluster singleton): registers and watches workers, and for every
/// iteration takes the next global batch of the epoch's order (a shuffle that depends only on
/// seed and epoch), splits its micro-shards over the live workers by their
/// measured speed (<see cref="ShardPlanner"/>), announces the step to the parameter server and sends each worker its shard.
/// Shards of a worker that died or whose result was rejected are sent again; the first result
/// for a micro-shard wins. After each epoch it validates on a snapshot of the weights off the
/// actor thread and asks the parameter server for a checkpoint.
/// </summary>
/// <remarks>
/// A shard not back in time (a stopped, hung or overloaded worker: see
/// <see cref="CoordinatorSettings.ShardTimeout"/>) is given to another worker, and its worker gets no
/// new shards for <see cref="Probation"/> (it still gets the weights). Fewer live workers than
/// <see cref="CoordinatorSettings.MinLiveWorkers"/> pause the run before the next iteration; enough joining
/// workers resume it.
/// </remarks>
public sealed partial class CoordinatorActor : ReceiveActor, IWithTimers
{
    /// <summary>How long a worker whose shard was overdue gets no new shards.</summary>
    public static readonly TimeSpan Probation = TimeSpan.FromSeconds(30);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CoordinatorSettings _settings;
    private readonly RunPlan _plan;
    private readonly Dictionary<IActorRef, WorkerInfo> _workers = [];
    private readonly Dictionary<int, (ComputeGradients Message, IActorRef Worker)> _outstanding = [];
    // The next iteration's shards, already sent (see StartIteration); _aheadIteration is -1 when none.
    private readonly Dictionary<int, (ComputeGradients Message, IActorRef Worker)> _ahead = [];
    private long _aheadIteration = -1;
    private readonly int[] _order;
    private readonly int _iterationsPerEpoch;
    private int _epoch;
    private int _iterationInEpoch;
    private long _iteration;
    private long _version;
    private double _epochLoss;
    private long _epochCorrect;
    private int _epochSamples;
    private DateTime _epochStart;
    private double _epochTrainingSeconds;
    private readonly Engine.Optimizers.Sgd _sgd;
    private float _learningRate;
    private readonly Engine.Data.Dataset _validation;
    // No iteration runs: fewer live workers than --min-workers; the next one that is ready resumes.
    private bool _paused;
    private bool _started;
    // Samples trained in this process in the current epoch (a resumed epoch also counts those before the checkpoint).
    private int _epochSamplesHere;
    private readonly PeriodicCheckpoints _periodic;
    // Where the run continues: settings.Resume, or what a standby found when it took over.
    private readonly Runs.ResumePoint? _resume;

    private sealed record ShardsOverdue(long Iteration, TimeSpan After);

    // A worker whose shards fail or are rejected this many times in a row is excluded from the run.
    private const int MaxStrikes = 3;

    private sealed record EvaluationDone(EvaluationResult Result, bool Final);
    private sealed class EpochRecordTimedOut { public static readonly EpochRecordTimedOut Instance = new(); }

    /// <summary>Props for the singleton manager.</summary>
    public static Props Props(CoordinatorSettings settings) => Akka.Actor.Props.Create(() => new CoordinatorActor(settings));

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Creates the coordinator; use <see cref="Props"/>.</summary>
    public CoordinatorActor(CoordinatorSettings settings)
    {
        _settings = settings;
        _plan = settings.Plan;
        _order = new int[_plan.TrainCount];
        _iterationsPerEpoch = EpochOrder.Iterations(_plan.TrainCount, _plan.GlobalBatch);
        _sgd = new Engine.Optimizers.Sgd(_plan.Sgd());
        _validation = settings.Train.Slice(_plan.TrainCount, settings.Train.Count - _plan.TrainCount);
        _periodic = new PeriodicCheckpoints(_plan.RunId, _log);
        var takeOver = settings.TakeOver?.Invoke();
        _resume = takeOver is null ? settings.Resume : takeOver.Resume;
        if (_resume is { } resume)
        {
            _iteration = resume.Iteration;
            _epoch = (int)(resume.Iteration / _iterationsPerEpoch);
        }
        if (takeOver is { Finished: true })
        {
            _log.Info("Run {RunId}: this standby took over a run that already finished; nothing to do", RunId);
            Become(() => ReceiveAny(_ => { }));
            return;
        }
        if (takeOver is not null)
        {
            string detail = "this standby node took over the coordinator, " +
                (_resume is { } r ? $"continuing from {r.Path} at iteration {r.Iteration}" : "starting the run again (no checkpoint yet)");
            _log.Warning("Run {RunId}: {Detail}", RunId, detail);
            Report(new RunEvent(RunId, "took_over", detail, _iteration));
        }
        Become(WaitingForWorkers);
    }

    private string RunId => _plan.RunId;

    private IEnumerable<IActorRef> ReadyWorkers => _workers.Where(w => w.Value.Ready).Select(w => w.Key).OrderBy(w => _workers[w].Id, StringComparer.Ordinal);

    private void CommonMembership()
    {
        Receive<RegisterWorker>(OnRegister);
        Receive<WorkerReady>(OnReady);
        Receive<WorkerFailed>(f =>
        {
            _log.Warning("Run {RunId}: worker {Worker} failed: {Reason}", RunId, f.WorkerId, f.Reason);
            Report(new RunEvent(RunId, "worker_failed", $"{f.WorkerId}: {f.Reason}", _iteration));
            RemoveWorker(Sender);
        });
        Receive<Terminated>(t =>
        {
            if (!_workers.TryGetValue(t.ActorRef, out var info)) return;
            _log.Warning("Run {RunId}: worker {Worker} left", RunId, info.Id);
            Report(new RunEvent(RunId, "worker_left", info.Id, _iteration));
            RemoveWorker(t.ActorRef);
        });
    }

    private void WaitingForWorkers()
    {
        CommonMembership();
        Receive<RunStarted>(_ => { });
    }

    private void OnRegister(RegisterWorker register)
    {
        if (register.RunId.Length > 0 && register.RunId != RunId)
        {
            Sender.Tell(new WorkerRefused(RunId, register.WorkerId, $"this cluster runs {RunId}, not {register.RunId}"));
            return;
        }
        if (_workers.ContainsKey(Sender))
        {
            Sender.Tell(new WorkerAccepted(RunId, register.WorkerId, _plan));
            return;
        }
        if (register.DatasetFingerprint != _plan.DatasetFingerprint)
        {
            string reason = $"worker {register.WorkerId} has dataset fingerprint {register.DatasetFingerprint[..Math.Min(12, register.DatasetFingerprint.Length)]}…, " +
                $"the coordinator has {_plan.DatasetFingerprint[..12]}…: point --data-dir at the same Fashion-MNIST files";
            _log.Warning("Run {RunId}: refused {Worker}: {Reason}", RunId, register.WorkerId, reason);
            Report(new RunEvent(RunId, "worker_refused", reason, _iteration));
            Sender.Tell(new WorkerRefused(RunId, register.WorkerId, reason));
            return;
        }
        // A worker restarted under its old id: the old registration is a dead process the cluster has not
        // downed yet; its shards go elsewhere now rather than after a time-out.
        var previous = WorkerNamed(register.WorkerId).Worker;
        if (previous is not null)
        {
            _log.Warning("Run {RunId}: worker {Worker} registered again from {Path}; dropping its old registration", RunId, register.WorkerId, Sender.Path);
            Report(new RunEvent(RunId, "worker_left", $"{register.WorkerId} (registered again)", _iteration));
            RemoveWorker(previous);
        }
        if (_workers.Count >= _settings.MaxWorkers)
        {
            Sender.Tell(new WorkerRefused(RunId, register.WorkerId, $"the run already has its maximum of {_settings.MaxWorkers} workers"));
            return;
        }
        _workers[Sender] = new WorkerInfo(register.WorkerId);
        Context.Watch(Sender);
        _log.Info("Run {RunId}: worker {Worker} registered ({Count} workers)", RunId, register.WorkerId, _workers.Count);
        Sender.Tell(new WorkerAccepted(RunId, register.WorkerId, _plan));
    }

    private void OnReady(WorkerReady ready)
    {
        if (ready.RunId != RunId || !_workers.TryGetValue(Sender, out var info) || info.Ready) return;
        info.Ready = true;
        Report(new RunEvent(RunId, "worker_joined", info.Id, _iteration));
        int count = ReadyWorkers.Count();
        if (!_started && count >= _settings.MinWorkers)
        {
            _started = true;
            _log.Info("Run {RunId}: {Count} workers ready, starting{From}", RunId, count,
                _resume is { } r ? $" from {r.Path} at iteration {r.Iteration}" : "");
            _settings.ParameterServer.Tell(new StartRun(RunId, _plan, [.. ReadyWorkers], _resume?.Path));
            Become(StartingRun);
        }
        else if (_epochStart != default)
        {
            _settings.ParameterServer.Tell(new WorkersChanged(RunId, [.. ReadyWorkers]));
            // Shards whose workers all left wait for this one.
            ReassignWhere(w => !_workers.ContainsKey(w));
            if (_paused && count >= Math.Max(1, _settings.MinLiveWorkers))
            {
                _paused = false;
                _log.Info("Run {RunId}: {Count} live workers, resuming at iteration {Iteration}", RunId, count, _iteration);
                Report(new RunEvent(RunId, "resumed", $"{count} live workers", _iteration));
                StartIteration();
            }
        }
    }

    private void StartingRun()
    {
        CommonMembership();
        Receive<RunStarted>(started =>
        {
            if (started.RunId != RunId) return;
            _version = started.Version;
            _settings.ParameterServer.Tell(new WorkersChanged(RunId, [.. ReadyWorkers]));
            StartEpoch();
        });
    }

    private void StartEpoch()
    {
        EpochOrder.Fill(_order, _plan.Seed, _epoch, shuffle: true);
        _iterationInEpoch = (int)(_iteration - (long)_epoch * _iterationsPerEpoch);
        var resumed = _iterationInEpoch > 0 ? _resume : null;
        _epochLoss = resumed?.EpochLossSum ?? 0;
        _epochCorrect = resumed?.EpochCorrect ?? 0;
        _epochSamples = resumed?.EpochSamples ?? 0;
        _epochSamplesHere = 0;
        _epochStart = DateTime.UtcNow;
        Become(Training);
        StartIteration();
    }

    private void Training()
    {
        CommonMembership();
        Receive<StepCompleted>(OnStepCompleted);
        Receive<ShardRejected>(OnShardRejected);
        Receive<ShardFailed>(OnShardFailed);
        Receive<ShardAccepted>(accepted =>
        {
            if (accepted.RunId != RunId || accepted.Iteration != _iteration) return;
            _outstanding.Remove(accepted.ShardId);
            if (WorkerNamed(accepted.WorkerId).Info is { } info) info.SuspectUntil = default;
        });
        Receive<ShardsOverdue>(OnOverdue);
        Receive<CheckpointSaved>(OnCheckpointSaved);
    }

    // Of the periodic checkpoints (iter-*.ckpt) and of the epochs' the last few are kept, as in a single-process run.
    private void OnCheckpointSaved(CheckpointSaved saved)
    {
        if (saved.Error is not null)
        {
            _log.Error("Run {RunId}: checkpoint {Path} failed: {Error}", RunId, saved.Path, saved.Error);
            return;
        }
        if (PeriodicCheckpoints.IsPeriodic(saved.Path)) _periodic.Written(saved.Path);
        else if (Runs.RunFolder.IsEpochCheckpoint(saved.Path))
        {
            try { Runs.RunFolder.PruneEpochCheckpoints(Path.GetDirectoryName(saved.Path)!); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Warning("Run {RunId}: cannot delete old epoch checkpoints: {Reason}", RunId, e.Message);
            }
        }
    }

    private void StartIteration()
    {
        var workers = ReadyWorkers.ToList();
        int needed = Math.Max(1, _settings.MinLiveWorkers);
        if (workers.Count < needed)
        {
            // Shards already sent for this iteration stay where they are: a worker that holds one computes it,
            // and the parameter server keeps the result until the step begins.
            _paused = true;
            string reason = $"{workers.Count} live workers, the run needs at least {needed} (--min-workers)";
            _log.Warning("Run {RunId}: paused before iteration {Iteration}: {Reason}; waiting for workers to join", RunId, _iteration, reason);
            Report(new RunEvent(RunId, "paused", reason, _iteration));
            return;
        }
        var (_, batch, microShards) = BatchOf(_iterationInEpoch);
        float lr = _sgd.LearningRateAt(_iteration, _epoch);
        _learningRate = lr;
        _settings.ParameterServer.Tell(new BeginStep(RunId, _iteration, _epoch, _version, batch, microShards, lr));
        _outstanding.Clear();
        if (_aheadIteration == _iteration)
        {
            // Sent one iteration ahead: the workers already hold these requests (waiting for this
            // version's weights); only a worker that left since needs its shard sent elsewhere.
            foreach (var (shardId, entry) in _ahead)
            {
                _outstanding[shardId] = entry;
                if (!workers.Contains(entry.Worker)) Reassign(shardId, entry.Message, entry.Worker);
            }
        }
        else
        {
            Dispatch(_iterationInEpoch, _iteration, _version, Dispatchable(workers), _outstanding);
        }
        _ahead.Clear();
        _aheadIteration = -1;
        var deadline = Deadline();
        if (deadline > TimeSpan.Zero) Timers.StartSingleTimer("overdue", new ShardsOverdue(_iteration, deadline), deadline);
        // Send the next iteration's shards now, for the version this step will produce: each worker
        // starts computing as soon as those weights reach it over the tensor link, instead of after
        // StepCompleted here and another Akka.Remote hop (the hop waits for a CPU while both cores
        // compute). Not across an epoch boundary, where validation runs in between.
        if (_iterationInEpoch + 1 < _iterationsPerEpoch)
        {
            Dispatch(_iterationInEpoch + 1, _iteration + 1, _version + 1, Dispatchable(workers), _ahead);
            _aheadIteration = _iteration + 1;
        }
    }

    // The global batch of an iteration of the current epoch: first position in the epoch order, samples, micro-shards.
    private (int Start, int Batch, int MicroShards) BatchOf(int iterationInEpoch)
    {
        int start = iterationInEpoch * _plan.GlobalBatch;
        int batch = Math.Min(_plan.GlobalBatch, _plan.TrainCount - start);
        return (start, batch, (batch + _plan.MicroShardSize - 1) / _plan.MicroShardSize);
    }

    // Splits an iteration's micro-shards over the workers by measured speed and sends each its shard.
    private void Dispatch(int iterationInEpoch, long iteration, long version, List<IActorRef> workers,
        Dictionary<int, (ComputeGradients Message, IActorRef Worker)> into)
    {
        var (start, batch, microShards) = BatchOf(iterationInEpoch);
        var counts = ShardPlanner.Split(microShards, workers.Select(w => _workers[w].SamplesPerMs).ToList());
        int shardId = 0, micro = 0;
        for (int i = 0; i < workers.Count; i++)
        {
            if (counts[i] == 0) continue;
            int first = micro * _plan.MicroShardSize;
            int end = Math.Min((micro + counts[i]) * _plan.MicroShardSize, batch);
            var indices = _order.AsSpan(start + first, end - first).ToArray();
            var message = new ComputeGradients(RunId, iteration, _epoch, version, shardId, micro, indices);
            into[shardId++] = (message, workers[i]);
            workers[i].Tell(message);
            micro += counts[i];
        }
    }

    private void OnStepCompleted(StepCompleted step)
    {
        if (step.RunId != RunId || step.Iteration != _iteration) return;
        Timers.Cancel("overdue");
        _version = step.Version;
        foreach (var t in step.Timings)
        {
            var worker = WorkerNamed(t.WorkerId).Info;
            if (worker is null || t.ComputeMilliseconds <= 0) continue;
            worker.Strikes = 0;
            worker.Measured = true;
            double speed = t.Samples / t.ComputeMilliseconds;
            worker.SamplesPerMs = 0.7 * worker.SamplesPerMs + 0.3 * speed;
        }
        _outstanding.Clear();
        _epochLoss += step.LossSum;
        _epochCorrect += step.Correct;
        _epochSamples += step.Samples;
        _epochSamplesHere += step.Samples;
        _iteration++;
        _iterationInEpoch++;
        if (_settings.CheckpointEvery > 0 && _iteration % _settings.CheckpointEvery == 0 && _iterationInEpoch < _iterationsPerEpoch && _settings.CheckpointDirectory is not null)
        {
            // Between two steps: the parameter server handles this before the next BeginStep.
            string path = Path.Combine(_settings.CheckpointDirectory, PeriodicCheckpoints.FileName(_iteration));
            _settings.ParameterServer.Tell(new SaveCheckpoint(RunId, path, _epoch, _iteration, _epochSamples, _epochCorrect, _epochLoss));
        }
        var slowest = ReadyWorkers.Select(w => _workers[w]).Where(w => w.Measured).MinBy(w => w.SamplesPerMs);
        Report(new IterationEnded(RunId, _epoch + 1, _iterationInEpoch, _iterationsPerEpoch,
            _epochLoss / _epochSamples, (double)_epochCorrect / _epochSamples, WorkingCount, slowest?.Id, (slowest?.SamplesPerMs ?? 0) * 1000));
        if (_iterationInEpoch < _iterationsPerEpoch) StartIteration();
        else EndEpoch();
    }

    private void Report(object message) => _settings.Reporter.Tell(message);
}
