using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Training;
using Distributed.Messages.Hosting;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Distributed.Messages.Transport;

namespace Distributed.Worker.Actors;

/// <summary>
/// A worker: registers with the coordinator until accepted, builds the plan's model, applies
/// weight broadcasts, and for each <see cref="ComputeGradients"/> runs its micro-shards on the
/// local engine off the actor thread, replying to the parameter server with the exact
/// fixed-point gradient sum. It never computes on weights of another version: a request for a
/// newer version waits for those weights, a request for an older one is dropped. When the
/// coordinator that accepted it is gone (its node crashed and was downed), the worker registers
/// again, with whichever coordinator takes over (a standby node), for as long as its join time-out.
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithStash, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly WorkerSettings _settings;
    private readonly TensorAssembler _assembler = new();
    private RunPlan? _plan;
    private ShardComputer? _computer;
    private IActorRef _parameterServer = ActorRefs.Nobody;
    private IActorRef _coordinator = ActorRefs.Nobody;
    private long _version = -1;
    private long _transferId;
    private TensorLinkClient? _link;
    private int _linkGeneration;
    private readonly WorkerProfile _profile = new();
    // The tail of a newer version that went ahead of the rest of it (see WeightsUpdated).
    private WeightsUpdated? _pendingTail;

    private sealed record Computed(ComputeGradients Request, ShardResult Result, double Milliseconds);
    private sealed record Failed(ComputeGradients Request, Exception Error);
    private sealed record LinkUp(int Generation, TensorLinkClient Client);
    private sealed record LinkDown(int Generation, string? Reason);
    private sealed class RegisterTick { public static readonly RegisterTick Instance = new(); }
    private sealed class JoinTimedOut { public static readonly JoinTimedOut Instance = new(); }

    // A refused TLS handshake looks like an unreachable node from here; say so.
    private string TlsHint() => Messages.Security.ClusterTlsSetup.Of(Context.System) is { } tls ? "; " + tls.FailureHint() : "";

    /// <summary>Props for the worker actor.</summary>
    public static Props Props(WorkerSettings settings) => Akka.Actor.Props.Create(() => new WorkerActor(settings));

    /// <inheritdoc/>
    public IStash Stash { get; set; } = null!;

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Creates the worker actor; use <see cref="Props"/>.</summary>
    public WorkerActor(WorkerSettings settings)
    {
        _settings = settings;
        Become(Registering);
    }

    /// <inheritdoc/>
    protected override void PreStart() => StartRegistering();

    private void StartRegistering()
    {
        Timers.StartPeriodicTimer("register", RegisterTick.Instance, TimeSpan.Zero, TimeSpan.FromSeconds(2));
        Timers.StartSingleTimer("join-timeout", JoinTimedOut.Instance, _settings.JoinTimeout);
    }

    // The coordinator that accepted this worker is gone: its run continues, if at all, on a coordinator
    // that takes over from the newest checkpoint, under a new run id. Whatever is computing is dropped.
    private void OnCoordinatorLost(Terminated lost)
    {
        if (!lost.ActorRef.Equals(_coordinator)) return;
        _log.Warning("Worker {Worker}: the coordinator of run {RunId} is gone; registering again for {Seconds:F0} s (a standby coordinator takes over)",
            _settings.WorkerId, RunId, _settings.JoinTimeout.TotalSeconds);
        _coordinator = ActorRefs.Nobody;
        _parameterServer = ActorRefs.Nobody;
        _link?.Dispose();
        _link = null;
        _linkGeneration++;
        ReturnPendingTail();
        _plan = null;
        _version = -1;
        Become(Registering);
        StartRegistering();
    }

    private string RunId => _plan?.RunId ?? "";

    private void Registering()
    {
        Receive<RegisterTick>(_ => _settings.Coordinator.Tell(new RegisterWorker("", _settings.WorkerId, _settings.DatasetFingerprint, _settings.Threads)));
        Receive<JoinTimedOut>(_ => Exit(ExitCodes.Failure,
            $"could not join the cluster within {_settings.JoinTimeout.TotalSeconds:F0} s; check --seed-node and that the coordinator is running" + TlsHint()));
        Receive<WorkerRefused>(r => Exit(ExitCodes.Failure, $"the coordinator refused this worker: {r.Reason}"));
        Receive<WorkerAccepted>(OnAccepted);
        Receive<RunFinished>(f => Exit(ExitCodes.Ok, $"run {f.RunId} already finished"));
        // A shard of the lost coordinator's run that finished computing meanwhile.
        Receive<Computed>(_ => { });
        Receive<Failed>(_ => { });
        ReceiveAny(_ => Stash.Stash());
    }

    private void OnAccepted(WorkerAccepted accepted)
    {
        Timers.Cancel("register");
        Timers.Cancel("join-timeout");
        _plan = accepted.Plan;
        if (_plan.DatasetFingerprint != _settings.DatasetFingerprint)
        {
            string reason = $"dataset fingerprint {_settings.DatasetFingerprint[..12]}… differs from the plan's {_plan.DatasetFingerprint[..12]}…: point --data-dir at the same Fashion-MNIST files";
            Sender.Tell(new WorkerFailed(RunId, _settings.WorkerId, reason));
            Exit(ExitCodes.Failure, reason);
            return;
        }
        try
        {
            var scaling = new InputScaling(_plan.InputMean, _plan.InputStd);
            // A private copy when scaling: the loaded data may be shared (in-process clusters, tests).
            var train = scaling.IsIdentity ? _settings.Train : _settings.Train.Slice(0, _settings.Train.Count);
            scaling.Apply(train);
            var model = ModelSpec.Parse(_plan.ModelSpecJson).Build();
            model.Threads = _settings.Threads;
            _computer = new ShardComputer(model, train, _plan.MicroShardSize, _plan.Seed);
        }
        catch (Engine.EngineException e)
        {
            Sender.Tell(new WorkerFailed(RunId, _settings.WorkerId, e.Message));
            Exit(ExitCodes.Failure, $"cannot build the plan's model: {e.Message}");
            return;
        }
        _log.Info("Worker {Worker} joined run {RunId}", _settings.WorkerId, RunId);
        _coordinator = Sender;
        Context.Watch(_coordinator);
        Sender.Tell(new WorkerReady(RunId, _settings.WorkerId));
        Become(Ready);
        Stash.UnstashAll();
    }

    private void Ready()
    {
        Receive<WorkerAccepted>(_ => { });
        Receive<RegisterTick>(_ => { });
        Receive<TensorChunk>(OnChunk);
        Receive<WeightsUpdated>(OnWeights);
        Receive<ComputeGradients>(OnCompute);
        Receive<TensorLinkOffered>(OnLinkOffered);
        Receive<LinkUp>(OnLinkUp);
        Receive<LinkDown>(OnLinkDown);
        Receive<RunFinished>(f => Exit(f.Success ? ExitCodes.Ok : ExitCodes.Failure, $"run {f.RunId} finished: {f.Summary}"));
        Receive<Terminated>(OnCoordinatorLost);
        ReceiveAny(m => _log.Warning("Worker {Worker} dropped {Message}", _settings.WorkerId, m.GetType().Name));
    }

    private void OnChunk(TensorChunk chunk)
    {
        if (chunk.RunId != RunId) { _log.Warning("Worker {Worker} dropped a chunk of run {Other}", _settings.WorkerId, chunk.RunId); return; }
        var result = _assembler.Add(chunk, Sender);
        if (result.Status == AssemblyStatus.Complete) Self.Forward(result.Message!);
        else if (result.Status == AssemblyStatus.Rejected)
            _log.Warning("Worker {Worker} rejected a malformed transfer from {Sender}: {Reason}", _settings.WorkerId, Sender.Path, result.Error);
    }

    private void OnLinkOffered(TensorLinkOffered offer)
    {
        if (offer.RunId != RunId) { _log.Warning("Worker {Worker} dropped a tensor link offer of run {Other}", _settings.WorkerId, offer.RunId); return; }
        _link?.Dispose();
        _link = null;
        int generation = ++_linkGeneration;
        var self = Self;
        var model = _computer!.Model;
        long maxBody = TensorLinkFrame.MaxWeightsBodyBytes(model.Weights.Length, model.State.Length);
        TensorLinkClient.ConnectAsync(offer, self, Sender, maxBody, reason => self.Tell(new LinkDown(generation, reason)), TimeSpan.FromSeconds(10),
                Messages.Security.ClusterTlsSetup.Of(Context.System))
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? (object)new LinkUp(generation, t.Result)
                : new LinkDown(generation, $"cannot connect to {offer.Host}:{offer.Port}: {t.Exception?.GetBaseException().Message ?? "timed out"}"),
                TaskScheduler.Default)
            .PipeTo(self);
    }

    private void OnLinkUp(LinkUp up)
    {
        if (up.Generation != _linkGeneration) { up.Client.Dispose(); return; }
        _link = up.Client;
        _log.Info("Worker {Worker}: tensor link to the parameter server is up", _settings.WorkerId);
    }

    private void OnLinkDown(LinkDown down)
    {
        if (down.Generation != _linkGeneration) return;
        _link?.Dispose();
        _link = null;
        if (down.Reason is not null)
            _log.Warning("Worker {Worker}: tensor link unavailable ({Reason}); tensors go over Akka.Remote", _settings.WorkerId, down.Reason);
    }

    private void OnWeights(WeightsUpdated weights)
    {
        var model = _computer!.Model;
        if (weights.RunId == RunId && weights.Version > _version && weights.Offset > 0 && weights.Offset + (long)weights.Weights.Length == model.Weights.Length)
        {
            // A version's tail, ahead of its head: kept (in its pooled array) until the head comes.
            ReturnPendingTail();
            _pendingTail = weights;
            TensorBufferPool.Return(weights.State);
            return;
        }
        try { ApplyWeights(weights); }
        finally
        {
            // Decoded into pooled arrays: copied into the model (or refused), they can be reused.
            TensorBufferPool.Return(weights.Weights);
            TensorBufferPool.Return(weights.State);
        }
    }

    private void ReturnPendingTail()
    {
        if (_pendingTail is not null) TensorBufferPool.Return(_pendingTail.Weights);
        _pendingTail = null;
    }

    private void ApplyWeights(WeightsUpdated weights)
    {
        var model = _computer!.Model;
        if (weights.RunId != RunId || weights.Version <= _version) return;
        int length = weights.Weights.Length;
        var tail = _pendingTail is { } p && p.Version == weights.Version && p.Offset == length ? p : null;
        if (weights.Offset != 0 || weights.State.Length != model.State.Length || (length != model.Weights.Length && tail is null))
        {
            string held = _pendingTail is null ? "no tail held" : $"the tail held is of version {_pendingTail.Version} from {_pendingTail.Offset}";
            _log.Error("Worker {Worker} cannot apply weights version {Version}: {Problem}", _settings.WorkerId, weights.Version,
                $"parameters {weights.Offset} to {weights.Offset + length} and {weights.State.Length} state values, the model has {model.Weights.Length} and {model.State.Length}, {held}");
            return;
        }
        weights.Weights.CopyTo(model.Weights, 0);
        tail?.Weights.CopyTo(model.Weights, length);
        ReturnPendingTail();
        weights.State.CopyTo(model.State, 0);
        _version = weights.Version;
        _profile.WeightsArrived();
        _parameterServer = Sender;
        Stash.UnstashAll();
    }

    private void OnCompute(ComputeGradients request)
    {
        if (request.RunId != RunId) { _log.Warning("Worker {Worker} dropped a request of run {Other}", _settings.WorkerId, request.RunId); return; }
        if (request.Version > _version) { Stash.Stash(); return; }
        if (request.Version < _version)
        {
            _log.Info("Worker {Worker} dropped stale shard {Shard} of iteration {Iteration} (version {Version} < {Current})",
                _settings.WorkerId, request.ShardId, request.Iteration, request.Version, _version);
            return;
        }
        var computer = _computer!;
        double throttle = _settings.Throttle;
        _profile.ComputeStarted();
        // The dense head's gradient goes ahead over the tensor link while the convolutions' backward runs
        // (sent from the computing thread; the link is thread-safe and keeps the order of its frames).
        var link = _link;
        string runId = RunId, workerId = _settings.WorkerId;
        int microShards = (request.SampleIndices.Length + _plan!.MicroShardSize - 1) / _plan.MicroShardSize;
        computer.TailReady = link is null ? null : (offset, tail) =>
        {
            var frame = TensorCodec.EncodeGradientTailPooled(runId, request.Iteration, request.Version, request.ShardId, workerId, offset, tail,
                request.FirstMicroShard, microShards);
            try { return link.TrySend(TensorLinkFrame.GradientTailKind, frame); }
            finally { frame.Release(); }
        };
        Task.Run(() =>
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var result = computer.Compute(request.Epoch, request.SampleIndices);
                double ms = clock.Elapsed.TotalMilliseconds;
                if (throttle > 1.0) Thread.Sleep(TimeSpan.FromMilliseconds((throttle - 1.0) * ms));
                return (object)new Computed(request, result, clock.Elapsed.TotalMilliseconds);
            }
            catch (Exception e) { return new Failed(request, e); }
        }).PipeTo(Self);
        Become(Busy);
    }

    private void Busy()
    {
        Receive<Computed>(done =>
        {
            long sendStart = System.Diagnostics.Stopwatch.GetTimestamp();
            var r = done.Result;
            GradientShard Shard(long[] gradient) => new(RunId, done.Request.Iteration, done.Request.Version, done.Request.ShardId, _settings.WorkerId,
                done.Request.FirstMicroShard, r.MicroShardSizes, r.LossSums, r.Correct, gradient, r.BatchStatistics, done.Milliseconds);
            bool sent = false;
            if (r.TailOffset >= 0 && _link is not null)
            {
                // The tail went ahead: the shard carries the parameters before it.
                var head = TensorBufferPool.Rent<long>(r.TailOffset);
                r.GradientFixedPoint.AsSpan(0, r.TailOffset).CopyTo(head);
                sent = _link.TrySend(Shard(head));
                TensorBufferPool.Return(head);
            }
            else if (r.TailOffset < 0) sent = _link?.TrySend(Shard(r.GradientFixedPoint)) == true;
            // Over Akka.Remote the whole gradient goes, so a tail that went ahead is not needed.
            if (!sent)
                foreach (var chunk in TensorChunker.Split(Shard(r.GradientFixedPoint), ++_transferId)) _parameterServer.Tell(chunk, Self);
            if (_profile.ShardSent(done.Milliseconds, sendStart) is { } summary) _log.Info("Worker {Worker}: {Summary}", _settings.WorkerId, summary);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<Failed>(f =>
        {
            _log.Error(f.Error, "Worker {Worker} failed to compute shard {Shard}", _settings.WorkerId, f.Request.ShardId);
            // The coordinator gives the shard to another worker: the iteration must not wait for it.
            _settings.Coordinator.Tell(new ShardFailed(RunId, f.Request.Iteration, f.Request.ShardId, _settings.WorkerId,
                $"{f.Error.GetType().Name}: {f.Error.Message}"));
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<RunFinished>(f => Exit(f.Success ? ExitCodes.Ok : ExitCodes.Failure, $"run {f.RunId} finished: {f.Summary}"));
        Receive<Terminated>(OnCoordinatorLost);
        ReceiveAny(_ => Stash.Stash());
    }

    /// <inheritdoc/>
    protected override void PostStop()
    {
        _link?.Dispose();
        ReturnPendingTail();
    }

    private void Exit(int code, string message)
    {
        if (code == ExitCodes.Ok) _log.Info("Worker {Worker}: {Message}", _settings.WorkerId, message);
        else _log.Error("Worker {Worker}: {Message}", _settings.WorkerId, message);
        _settings.Exit.TrySetResult(new WorkerExit(code, message));
        Become(() => ReceiveAny(_ => { }));
    }
}
