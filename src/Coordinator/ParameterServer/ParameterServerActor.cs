using Akka.Actor;
using Akka.Event;
using Distributed.Engine.Checkpoints;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;
using Distributed.Coordinator.Coordination;
using Distributed.Coordinator.Runs;
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
/// <remarks>
/// When the workers send their gradients' tails ahead (the dense head, most of the parameters), the
/// update of those parameters does not wait for the rest: as soon as every micro-shard's tail is in,
/// it applies SGD to them and sends them ahead over the tensor links, while the workers still compute
/// the earlier layers; the step's broadcast then carries only the parameters before them. Weights are
/// not handed out (snapshots, checkpoints, joining workers) while a step is half applied.
/// </remarks>
public sealed class ParameterServerActor : ReceiveActor, IWithStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TensorAssembler _assembler = new();
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
    private float _learningRate;
    private int _rejected;
    private int _dropped;
    private readonly System.Diagnostics.Stopwatch _stepClock = new();
    private readonly StepProfile _profile = new();
    private readonly GradientTails _tails = new();
    private bool _tailSeen;
    private bool _weightsTailSeen;
    private WeightsBroadcast _broadcast = new("", ActorRefs.Nobody);
    private (int Offset, IReadOnlyList<ParameterSegment> Head, IReadOnlyList<ParameterSegment> Tail) _split = (-1, [], []);

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
        _broadcast = new WeightsBroadcast(RunId, Self);
        _workers = [.. start.Workers];
        _version = 0;
        if (start.ResumeFrom is not null)
        {
            // Weights, state and momentum after the checkpoint's iterations; each step bumped the version once.
            var checkpoint = Checkpoint.Load(start.ResumeFrom);
            checkpoint.Restore(_model, _velocity, start.ResumeFrom);
            _version = checkpoint.Header.Iteration;
            _lastIteration = _version - 1;
            _log.Info("Run {RunId}: parameter server resumed from {Path} (epoch {Epoch}, iteration {Iteration})",
                RunId, start.ResumeFrom, checkpoint.Header.Epoch, checkpoint.Header.Iteration);
        }
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
        Receive<GetWeights>(_ => HalfApplied, _ => Stash.Stash());
        Receive<SaveCheckpoint>(_ => HalfApplied, _ => Stash.Stash());
        Receive<GetWeights>(g => g.RunId == RunId, _ =>
            Sender.Tell(new WeightsSnapshot(RunId, _version, _lastIteration, (float[])_model!.Weights.Clone(), (float[])_model.State.Clone())));
        Receive<SaveCheckpoint>(OnSaveCheckpoint);
        ReceiveAny(m => Drop(m, "unexpected message"));
    }

    // The weights' tail is already updated, the rest not yet.
    private bool HalfApplied => _aggregator is { TailApplied: true, IsComplete: false };

    private void OnWorkersChanged(WorkersChanged changed)
    {
        if (changed.RunId != RunId) { Drop(changed, "another run"); return; }
        var added = changed.Workers.Where(w => !_workers.Contains(w)).ToList();
        foreach (var gone in _workers.Where(w => !changed.Workers.Contains(w)))
        {
            _broadcast.Forget(gone);
        }
        _workers = [.. changed.Workers];
        if (added.Count == 0) return;
        _broadcast.OfferLink(added);
        // Half applied, the weights are no version at all: the step's broadcast brings the new workers the whole next one.
        if (!HalfApplied) Broadcast(added);
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
        foreach (var tail in _tails.TakeAll(step.Iteration)) OfferTail(tail);
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
        var (verdict, reason) = _aggregator.Offer(shard);
        // Added into the exact sum (or refused): the decoded gradient's arrays can be reused.
        TensorBufferPool.Return(shard.GradientFixedPoint);
        if (!Accepted(verdict, reason, shard, "shard", shard.Iteration, shard.ShardId, shard.WorkerId)) return;
        if (_aggregator.IsComplete)
        {
            ApplyStep();
            return;
        }
        _coordinator.Tell(new ShardAccepted(RunId, shard.Iteration, shard.ShardId, shard.WorkerId));
        if (_aggregator is { TailComplete: true, TailApplied: false }) ApplyTail();
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
        if (tail.Iteration == _aggregator!.Iteration)
        {
            OfferTail(tail);
            return;
        }
        // The next iteration's, ahead of its BeginStep: kept until then; bounded, so tails cannot pile up.
        _tails.Add(tail, 4 * Math.Max(1, _workers.Count) + 4);
    }

    private void OfferTail(GradientTail tail)
    {
        var agg = _aggregator!;
        var (verdict, reason) = agg.OfferTail(tail);
        TensorBufferPool.Return(tail.GradientFixedPoint);
        if (!Accepted(verdict, reason, tail, "the gradient tail of shard", tail.Iteration, tail.ShardId, tail.WorkerId)) return;
        if (!_tailSeen)
        {
            _tailSeen = true;
            _log.Info("Run {RunId}: Tensor link: gradient tails arrive ahead of their shards (first from {Worker}: parameters {Offset} to {End})",
                RunId, tail.WorkerId, tail.Offset, _model!.Weights.Length);
        }
        if (agg.TailComplete && !agg.TailApplied && !agg.IsComplete) ApplyTail();
    }

    // Every micro-shard's tail is in: update those parameters now and send them ahead to the workers
    // on the tensor link, which keep them until the rest of the version follows.
    private void ApplyTail()
    {
        var agg = _aggregator!;
        int offset = agg.TailOffset;
        Update(offset, agg.Sum.Length, SplitAt(offset).Tail);
        agg.MarkTailApplied();
        if (_broadcast.SendTail(_workers, _version + 1, agg.Iteration, _model!.Weights.AsSpan(offset), offset) > 0 && !_weightsTailSeen)
        {
            _weightsTailSeen = true;
            _log.Info("Run {RunId}: Tensor link: the updated weights' tail goes ahead of the step (parameters {Offset} to {End}, first in iteration {Iteration})",
                RunId, offset, _model.Weights.Length, agg.Iteration);
        }
    }

    // SGD on parameters [start, end) from the exact sum: the mean gradient of the batch, then decay and momentum.
    private void Update(int start, int end, IReadOnlyList<ParameterSegment> segments)
    {
        var agg = _aggregator!;
        FixedPointGradient.ToFloat(agg.Sum[start..end], _gradient.AsSpan(start, end - start));
        _sgd!.Step(_model!.Weights, _gradient, _velocity, segments, _learningRate, 1f / agg.SampleCount);
    }

    // The trainable segments before and from a tail offset (layer boundaries, so no segment is cut in practice).
    private (int Offset, IReadOnlyList<ParameterSegment> Head, IReadOnlyList<ParameterSegment> Tail) SplitAt(int offset)
    {
        if (_split.Offset == offset) return _split;
        var head = new List<ParameterSegment>();
        var tail = new List<ParameterSegment>();
        foreach (var s in _segments)
        {
            int end = s.Offset + s.Length;
            if (s.Offset < offset) head.Add(new ParameterSegment(s.Offset, Math.Min(end, offset) - s.Offset));
            if (end > offset) tail.Add(new ParameterSegment(Math.Max(s.Offset, offset), end - Math.Max(s.Offset, offset)));
        }
        return _split = (offset, head, tail);
    }

    private void ApplyStep()
    {
        var agg = _aggregator!;
        double waited = _stepClock.Elapsed.TotalMilliseconds;
        if (agg.TailApplied)
            Update(0, agg.TailOffset, SplitAt(agg.TailOffset).Head);
        else
            Update(0, agg.Sum.Length, _segments);
        if (_pooled.Length > 0)
        {
            _model!.PoolBatchStatistics(agg.Statistics, agg.Sizes, _pooled);
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
        // Snapshots and checkpoints asked for while the step was half applied.
        Stash.UnstashAll();
    }

    private void StartLink()
    {
        var settings = TensorLinkSettings.From(Context.System.Settings.Config);
        if (settings is null) return;
        long maxBody = TensorLinkFrame.MaxGradientBodyBytes(_model!.Weights.Length, _model.State.Length);
        try
        {
            var link = TensorLinkServer.Start(settings.BindHost, settings.Port, settings.PublicHost, RunId, Self, _log, maxBody,
                Messages.Security.ClusterTlsSetup.Of(Context.System));
            _broadcast.Link = link;
            _log.Info("Run {RunId}: tensor link listening on {Host}:{Port}", RunId, settings.BindHost, link.Port);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            _log.Warning("Run {RunId}: cannot listen for tensor links on {Host}:{Port} ({Reason}); tensors go over Akka.Remote", RunId, settings.BindHost, settings.Port, e.Message);
            return;
        }
        _broadcast.OfferLink(_workers);
    }

    private void Broadcast(IReadOnlyList<IActorRef> targets) =>
        _broadcast.Send(targets, _version, _lastIteration, _model!.Weights, _model.State, _aggregator!.TailOffset);

    /// <inheritdoc/>
    protected override void PostStop() => _broadcast.Dispose();

    // Whatever a behaviour did with a tensor message (used, dropped as stale, stashed), its worker's tensor link may
    // read the next one: the link holds back a worker that sends faster than this actor handles.
    /// <inheritdoc/>
    protected override bool AroundReceive(Receive receive, object message)
    {
        bool handled = base.AroundReceive(receive, message);
        if (message is ITensorMessage) _broadcast.Link?.Consumed(Sender);
        return handled;
    }

    private void OnSaveCheckpoint(SaveCheckpoint save)
    {
        if (save.RunId != RunId) { Drop(save, "another run"); return; }
        var settings = new InputScaling(_plan!.InputMean, _plan.InputStd).ToSettings().Append(new("run_id", RunId)).ToDictionary();
        if (save.EpochSamples > 0)
        {
            var invariant = System.Globalization.CultureInfo.InvariantCulture;
            settings[ResumeSettings.EpochSamples] = save.EpochSamples.ToString(invariant);
            settings[ResumeSettings.EpochCorrect] = save.EpochCorrect.ToString(invariant);
            settings[ResumeSettings.EpochLossSum] = save.EpochLossSum.ToString("R", invariant);
        }
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

    // Counts and reports a refused shard or tail; a rejected one's samples are computed again.
    private bool Accepted(ShardVerdict verdict, string? reason, object message, string what, long iteration, int shardId, string workerId)
    {
        if (verdict == ShardVerdict.Accept) return true;
        if (verdict == ShardVerdict.Drop)
        {
            Drop(message, reason!);
            return false;
        }
        _rejected++;
        _log.Warning("Run {RunId}: rejected {What} {Shard} of iteration {Iteration} from {Worker}: {Reason}", RunId, what, shardId, iteration, workerId, reason);
        _coordinator.Tell(new ShardRejected(RunId, iteration, shardId, workerId, reason!));
        return false;
    }

    private void Drop(object message, string reason)
    {
        _dropped++;
        _log.Warning("Run {RunId}: dropped {Message} from {Sender}: {Reason}", RunId, message.GetType().Name, Sender.Path, reason);
    }
}
