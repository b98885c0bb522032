using Akka.Actor;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Distributed.Messages.Transport;

namespace Distributed.Coordinator.ParameterServer;

/// <summary>
/// How the parameter server's weights reach the workers: over each worker's tensor link when it has
/// one, else as <see cref="TensorChunk"/>s over Akka.Remote. Remembers which workers got a version's
/// tail ahead (<see cref="SendTail"/>), so that the step's broadcast sends them only the rest.
/// </summary>
public sealed class WeightsBroadcast(string runId, IActorRef sender) : IDisposable
{
    private readonly HashSet<IActorRef> _tailSent = [];
    private long _transferId;

    /// <summary>The tensor-link listener, once started; null sends everything over Akka.Remote.</summary>
    public TensorLinkServer? Link { get; set; }

    /// <summary>Offers the tensor link to workers (no-op without a listener).</summary>
    public void OfferLink(IEnumerable<IActorRef> workers)
    {
        if (Link is null) return;
        foreach (var worker in workers) worker.Tell(Link.Offer(worker), sender);
    }

    /// <summary>Forgets a worker that left: its link and any tail it was sent.</summary>
    public void Forget(IActorRef worker)
    {
        Link?.Forget(worker);
        _tailSent.Remove(worker);
    }

    /// <summary>
    /// Sends the tail of <paramref name="version"/> (parameters <paramref name="offset"/> on, float32) to the
    /// workers with a tensor link; returns how many it reached. The others get the whole version later.
    /// </summary>
    public int SendTail(IEnumerable<IActorRef> workers, long version, long iteration, ReadOnlySpan<float> tail, int offset)
    {
        if (Link is null) return 0;
        var frame = TensorCodec.EncodeWeightsUpdatedPooled(runId, version, iteration, tail, [], offset);
        try
        {
            foreach (var worker in workers)
                if (Link.TrySend(worker, TensorLinkFrame.WeightsUpdatedKind, frame)) _tailSent.Add(worker);
        }
        finally { frame.Release(); }
        return _tailSent.Count;
    }

    /// <summary>
    /// Sends a version to <paramref name="targets"/>: the parameters before <paramref name="tailOffset"/> and the
    /// state to those that got its tail (<see cref="SendTail"/>), everything to the others.
    /// </summary>
    public void Send(IReadOnlyList<IActorRef> targets, long version, long iteration, float[] weights, float[] state, int tailOffset)
    {
        if (targets.Count == 0)
        {
            _tailSent.Clear();
            return;
        }
        var update = new WeightsUpdated(runId, version, iteration, weights, state);
        // Encoded now, once for every worker (the weights change again at the next step), into a pooled
        // buffer that goes back to the pool when the last link has written it.
        var frame = TensorCodec.EncodePooled(update);
        EncodedFrame? head = null;
        try
        {
            IReadOnlyList<TensorChunk>? chunks = null;
            foreach (var worker in targets)
            {
                if (Link is not null && _tailSent.Contains(worker))
                {
                    head ??= TensorCodec.EncodeWeightsUpdatedPooled(runId, version, iteration, weights.AsSpan(0, tailOffset), state, 0);
                    if (Link.TrySend(worker, TensorLinkFrame.WeightsUpdatedKind, head)) continue;
                }
                if (Link is not null && Link.TrySend(worker, TensorLinkFrame.WeightsUpdatedKind, frame)) continue;
                chunks ??= TensorChunker.Split(update, ++_transferId, frame.Memory.ToArray());
                foreach (var chunk in chunks) worker.Tell(chunk, sender);
            }
        }
        finally
        {
            frame.Release();
            head?.Release();
            _tailSent.Clear();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Link?.Dispose();
}
