using Akka.Actor;
using Akka.Event;
using Distributed.Engine.Checkpoints;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;
using Distributed.Coordinator.Coordination;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Distributed.Messages.Transport;

namespace Distributed.Coordinator.ParameterServer;

/// <summary>
/// The parameter server (a cluster singleton): holds the weights, momentum buffers and weights
/// version; collects each iteration's gradient shards (<see cref="StepAggregator"/>), applies
/// the engine's SGD on the flat vector (gradient = exact sum / n, then weight decay and
/// momentum), folds batch-norm statistics weighted by sample count, bumps the version and
/// broadcasts the new weights to every worker in chunks. Writes checkpoints off the actor thread.
/// </summary>
public sealed class ParameterServerActor : ReceiveActor, IWithStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TensorAssembler _assembler = new();
    private TensorLinkServer? _link;
    private RunPlan? _plan;
    private Sequential? _model;
    private string _specJson = "";
    private Sgd? _sgd;
    private float[] _velocity = [];
    private float[] _gradient = [];
    private float[] _pooled = [];
    private StepAggregator? _aggregator;
    private IReadOnlyList<ParameterSegment> _segments = [];
    private IActorRef _coordinator = ActorRefs.Nobody;
    private List<IActorRef> _workers = [];
    private long _version;
    private long _lastIteration = -1;
    private long _transferId;
    private float _learningRate;
    private int _rejected;
    private int _dropped;
    private readonly System.Diagnostics.Stopwatch _stepClock = new();
    private readonly StepProfile _profile = new();
    private readonly GradientTails _tails = new();
    private bool _tailSeen;

    /// <summary>Props for the singleton manager.</summary>
    public static Props Props() => Akka.Actor.Props.Create(() => new ParameterServerActor());

    /// <inheritdoc/>
    public IStash Stash { get; set; } = null!;

    /// <summary>Creates the parameter server; use <see cref="Props"/>.</summary>
    public ParameterServerActor() => Become(Idle);

    private string RunId => _plan?.RunId ?? "";

    private void Idle()
    {
        Receive<StartRun>(Start);
        ReceiveAny(m => _log.Warning("Parameter server has no run yet; dropping {Message}", m.GetType().Name));
    }

    private void Start(StartRun start)
    {
        _plan = start.Plan;
        _model = ModelSpec.Parse(_plan.ModelSpecJson).Build();
        _model.InitializeWeights(_plan.Seed);
        _specJson = _plan.ModelSpecJson;
        _sgd = new Sgd(_plan.Sgd());
        _velocity = new float[_model.Weights.Length];
        _gradient = new float[_model.Weights.Length];
        _pooled = new float[_model.State.Length];
        _segments = _model.TrainableSegments();
        _aggregator = new StepAggregator(_model.Weights.Length, _model.State.Length);
        _coordinator = Sender;
        _workers = [.. start.Workers];
        _version = 0;
        _log.Info("Run {RunId}: parameter server initialised {Parameters} parameters, broadcasting version 0 to {Workers} workers",
            RunId, _model.Weights.Length, _workers.Count);
        StartLink();
        Broadcast(_workers);
        Sender.Tell(new RunStarted(RunId, _version, _model.Weights.Length));
        Become(Running);
    }

    private void Running()
    {
        Receive<StartRun>(s => s.RunId == RunId, _ => Sender.Tell(new RunStarted(RunId, _version, _model!.Weights.Length)));
        Receive<WorkersChanged>(OnWorkersChanged);
        Receive<BeginStep>(OnBeginStep);
        Receive<TensorChunk>(OnChunk);
        Receive<GradientShard>(OnShard);
        Receive<GradientTail>(OnTail);
        Receive<GetWeights>(g => g.RunId == RunId, _ =>
            Sender.Tell(new WeightsSnapshot(RunId, _version, _lastIteration, (float[])_model!.Weights.Clone(), (float[])_model.State.Clone())));
        Receive<SaveCheckpoint>(OnSaveCheckpoint);
        ReceiveAny(m => Drop(m, "unexpected message"));
    }

    private void OnWorkersChanged(WorkersChanged changed)
    {
        if (changed.RunId != RunId) { Drop(changed, "another run"); return; }
        var added = changed.Workers.Where(w => !_workers.Contains(w)).ToList();
        foreach (var gone in _workers.Where(w => !changed.Workers.Contains(w))) _link?.Forget(gone);
        _workers = [.. changed.Workers];
        if (added.Count == 0) return;
        OfferLink(added);
        Broadcast(added);
    }

    private void OnBeginStep(BeginStep step)
    {
        if (step.RunId != RunId) { Drop(step, "another run"); return; }
        if (step.Version != _version)
        {
            _log.Warning("Run {RunId}: BeginStep {Iteration} for version {Version}, but the weights are at {Current}", RunId, step.Iteration, step.Version, _version);
            return;
        }
        if (step.MicroShardCount <= 0 || step.MicroShardCount > FixedPointGradient.MaxMicroShards)
        {
            _log.Error("Run {RunId}: BeginStep {Iteration} announces {Count} micro-shards", RunId, step.Iteration, step.MicroShardCount);
            return;
        }
        _aggregator!.Begin(step.Iteration, step.Version, step.SampleCount, step.MicroShardCount);
        _tails.DropBefore(step.Iteration);
        _learningRate = step.LearningRate;
        _stepClock.Restart();
        Stash.UnstashAll();
    }

    private void OnChunk(TensorChunk chunk)
    {
        if (chunk.RunId != RunId) { Drop(chunk, "another run"); return; }
        var result = _assembler.Add(chunk, Sender);
        switch (result.Status)
        {
            case AssemblyStatus.Complete:
                Self.Forward(result.Message!);
                break;
            case AssemblyStatus.Rejected:
                _rejected++;
                _log.Warning("Run {RunId}: rejected a malformed transfer from {Sender}: {Reason}", RunId, Sender.Path, result.Error);
                break;
        }
    }

    private void OnShard(GradientShard shard)
    {
        if (shard.RunId != RunId) { Drop(shard, "another run"); TensorBufferPool.Return(shard.GradientFixedPoint); return; }
        if (shard.Iteration == _aggregator!.Iteration + 1 && (shard.Version == _version || shard.Version == _version + 1))
        {
            // The next iteration's shard overtook its BeginStep (the coordinator sends requests one
            // iteration ahead, and the shard comes from another sender). Keep it until the step is
            // announced; one computed on weights that do not exist yet (version + 1 before this step
            // is applied) is then rejected there, so its samples are computed again, not lost.
            Stash.Stash();
            return;
        }
        var tail = (shard.GradientFixedPoint?.Length ?? 0) < _model!.Weights.Length ? _tails.Take(shard.Iteration, shard.ShardId, shard.WorkerId) : null;
        var (verdict, reason) = _aggregator.Offer(shard, tail);
        // Added into the exact sum (or refused): the decoded gradient's arrays can be reused.
        TensorBufferPool.Return(shard.GradientFixedPoint);
        TensorBufferPool.Return(tail?.GradientFixedPoint);
        if (tail is not null && verdict == ShardVerdict.Accept && !_tailSeen)
        {
            _tailSeen = true;
            _log.Info("Run {RunId}: Tensor link: gradient tails arrive ahead of their shards (first from {Worker}: parameters {Offset} to {End})",
                RunId, shard.WorkerId, tail.Offset, _model.Weights.Length);
        }
        switch (verdict)
        {
            case ShardVerdict.Drop:
                Drop(shard, reason!);
                return;
            case ShardVerdict.Reject:
                _rejected++;
                _log.Warning("Run {RunId}: rejected shard {Shard} of iteration {Iteration} from {Worker}: {Reason}", RunId, shard.ShardId, shard.Iteration, shard.WorkerId, reason);
                _coordinator.Tell(new ShardRejected(RunId, shard.Iteration, shard.ShardId, shard.WorkerId, reason!));
                return;
        }
        if (_aggregator.IsComplete) ApplyStep();
    }

    private void OnTail(GradientTail tail)
    {
        string? problem = tail.RunId != RunId ? "another run"
            : tail.Iteration < _aggregator!.Iteration || tail.Iteration > _aggregator.Iteration + 1 ? $"iteration {tail.Iteration} is not {_aggregator.Iteration} or the next"
            : tail.WorkerId is null || tail.GradientFixedPoint is null ? "no worker id or no gradient"
            : tail.Offset <= 0 || tail.Offset + (long)tail.GradientFixedPoint.Length != _model!.Weights.Length ? $"parameters {tail.Offset}.. of {tail.GradientFixedPoint.Length} do not end the model's {_model!.Weights.Length}"
            : null;
        if (problem is not null)
        {
            Drop(tail, problem);
            TensorBufferPool.Return(tail.GradientFixedPoint);
            return;
        }
        // Kept until its shard arrives; bounded, so tails whose shards never come cannot pile up.
        _tails.Add(tail, 4 * Math.Max(1, _workers.Count) + 4);
    }

    private void ApplyStep()
    {
        var agg = _aggregator!;
        double waited = _stepClock.Elapsed.TotalMilliseconds;
        FixedPointGradient.ToFloat(agg.Sum, _gradient);
        _sgd!.Step(_model!.Weights, _gradient, _velocity, _segments, _learningRate, 1f / agg.SampleCount);
        if (_pooled.Length > 0)
        {
            _model.PoolBatchStatistics(agg.Statistics, agg.Sizes, _pooled);
            _model.FoldBatchStatistics(_pooled);
        }
        _version++;
        _lastIteration = agg.Iteration;
        double applied = _stepClock.Elapsed.TotalMilliseconds;
        Broadcast(_workers);
        double broadcast = _stepClock.Elapsed.TotalMilliseconds;
        _coordinator.Tell(new StepCompleted(RunId, agg.Iteration, _version, agg.LossSum, agg.Correct, agg.ReceivedSamples, [.. agg.Timings], _rejected, _dropped));
        if (_profile.Add(waited, applied - waited, broadcast - applied, agg.Timings.Count == 0 ? 0 : agg.Timings.Max(t => t.ComputeMilliseconds)) is { } summary)
            _log.Info("Run {RunId}: {Summary}", RunId, summary);
    }

    private void StartLink()
    {
        var settings = TensorLinkSettings.From(Context.System.Settings.Config);
        if (settings is null) return;
        long maxBody = TensorLinkFrame.MaxGradientBodyBytes(_model!.Weights.Length, _model.State.Length);
        try
        {
            _link = TensorLinkServer.Start(settings.BindHost, settings.Port, settings.PublicHost, RunId, Self, _log, maxBody);
            _log.Info("Run {RunId}: tensor link listening on {Host}:{Port}", RunId, settings.BindHost, _link.Port);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            _log.Warning("Run {RunId}: cannot listen for tensor links on {Host}:{Port} ({Reason}); tensors go over Akka.Remote", RunId, settings.BindHost, settings.Port, e.Message);
            return;
        }
        OfferLink(_workers);
    }

    private void OfferLink(IEnumerable<IActorRef> workers)
    {
        if (_link is null) return;
        foreach (var worker in workers) worker.Tell(_link.Offer(worker), Self);
    }

    private void Broadcast(IReadOnlyList<IActorRef> targets)
    {
        if (targets.Count == 0) return;
        var update = new WeightsUpdated(RunId, _version, _lastIteration, _model!.Weights, _model.State);
        // Encoded now, once for every worker (the weights change again at the next step), into a pooled
        // buffer that goes back to the pool when the last link has written it.
        var frame = TensorCodec.EncodePooled(update);
        try
        {
            IReadOnlyList<TensorChunk>? chunks = null;
            foreach (var worker in targets)
            {
                if (_link is not null && _link.TrySend(worker, TensorLinkFrame.WeightsUpdatedKind, frame)) continue;
                chunks ??= TensorChunker.Split(update, ++_transferId, frame.Memory.ToArray());
                foreach (var chunk in chunks) worker.Tell(chunk, Self);
            }
        }
        finally { frame.Release(); }
    }

    /// <inheritdoc/>
    protected override void PostStop() => _link?.Dispose();

    private void OnSaveCheckpoint(SaveCheckpoint save)
    {
        if (save.RunId != RunId) { Drop(save, "another run"); return; }
        var settings = new InputScaling(_plan!.InputMean, _plan.InputStd).ToSettings().Append(new("run_id", RunId)).ToDictionary();
        var checkpoint = Checkpoint.Capture(_model!, _specJson, _velocity, save.Epoch, save.Iteration, settings);
        var replyTo = Sender;
        Task.Run(() =>
        {
            try
            {
                checkpoint.Save(save.Path);
                return new CheckpointSaved(save.RunId, save.Path, null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new CheckpointSaved(save.RunId, save.Path, e.Message);
            }
        }).PipeTo(replyTo);
    }

    private void Drop(object message, string reason)
    {
        _dropped++;
        _log.Warning("Run {RunId}: dropped {Message} from {Sender}: {Reason}", RunId, message.GetType().Name, Sender.Path, reason);
    }
}
