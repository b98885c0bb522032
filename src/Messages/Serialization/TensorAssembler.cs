using System.Buffers;
using System.Runtime.Serialization;
using Akka.Actor;
using Distributed.Messages.Protocol;

namespace Distributed.Messages.Serialization;

/// <summary>What <see cref="TensorAssembler.Add"/> did with a chunk.</summary>
public enum AssemblyStatus
{
    /// <summary>The chunk was stored; its transfer still lacks chunks.</summary>
    Incomplete,

    /// <summary>The chunk completed its transfer; <see cref="AssemblyResult.Message"/> holds the decoded message.</summary>
    Complete,

    /// <summary>The chunk (and the transfer it belongs to) was discarded; <see cref="AssemblyResult.Error"/> says why.</summary>
    Rejected,
}

/// <summary>The outcome of <see cref="TensorAssembler.Add"/>.</summary>
/// <param name="Status">Whether the transfer is incomplete, complete or rejected.</param>
/// <param name="Message">The reassembled message when <paramref name="Status"/> is <see cref="AssemblyStatus.Complete"/>.</param>
/// <param name="Error">Why the chunk was rejected, for the log line.</param>
public readonly record struct AssemblyResult(AssemblyStatus Status, ITensorMessage? Message, string? Error)
{
    internal static readonly AssemblyResult Incomplete = new(AssemblyStatus.Incomplete, null, null);

    internal static AssemblyResult Rejected(string error) => new(AssemblyStatus.Rejected, null, error);
}

/// <summary>
/// Collects <see cref="TensorChunk"/>s per (sender, run id, transfer id), in any order, and returns the
/// decoded message when the last one arrives. Meant to live inside one actor: not thread-safe, no timers.
/// </summary>
/// <remarks>
/// Every chunk is validated (index and count in range and consistent across the transfer, a known
/// manifest that is not itself a chunk, payload size, no duplicates, total size bounded) and the
/// reassembled bytes go through <see cref="TensorCodec"/>'s hostile-input decoder, whose run id must
/// match the chunks'. A bad chunk discards its whole transfer. At most <c>maxOpenTransfers</c>
/// incomplete transfers (and <c>maxBufferedBytes</c> of payload) are kept; beyond that the oldest
/// incomplete transfer is dropped, so a sender that died mid-transfer cannot leak memory.
/// Payload arrays are kept by reference (not copied) and decoded in place as one segmented sequence.
/// </remarks>
public sealed class TensorAssembler
{
    /// <summary>Default bound on concurrently open transfers.</summary>
    public const int DefaultMaxOpenTransfers = 16;

    private readonly Dictionary<TransferKey, Transfer> _open = [];
    private readonly int _maxOpenTransfers;
    private readonly int _maxChunkBytes;
    private readonly long _maxMessageBytes;
    private readonly long _maxBufferedBytes;
    private readonly int _maxChunks;
    private long _nextSequence;

    /// <summary>Creates an assembler.</summary>
    /// <param name="maxOpenTransfers">Incomplete transfers kept at once; the oldest is dropped beyond this.</param>
    /// <param name="maxChunkBytes">Largest accepted chunk payload (the sender's chunk size).</param>
    /// <param name="maxMessageBytes">Largest accepted reassembled message.</param>
    /// <param name="maxBufferedBytes">Payload bytes kept across all open transfers; oldest transfers are dropped beyond this.</param>
    public TensorAssembler(
        int maxOpenTransfers = DefaultMaxOpenTransfers,
        int maxChunkBytes = SerializationConfig.ChunkBytes,
        long maxMessageBytes = TensorCodec.MaxMessageBytes,
        long maxBufferedBytes = 2 * TensorCodec.MaxMessageBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOpenTransfers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChunkBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxMessageBytes, TensorCodec.MaxMessageBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBufferedBytes, maxMessageBytes);
        _maxOpenTransfers = maxOpenTransfers;
        _maxChunkBytes = maxChunkBytes;
        _maxMessageBytes = maxMessageBytes;
        _maxBufferedBytes = maxBufferedBytes;
        _maxChunks = (int)Math.Min(int.MaxValue, (maxMessageBytes + maxChunkBytes - 1) / maxChunkBytes);
    }

    /// <summary>Number of incomplete transfers held.</summary>
    public int OpenTransfers => _open.Count;

    /// <summary>Payload bytes held by incomplete transfers.</summary>
    public long BufferedBytes { get; private set; }

    /// <summary>Incomplete transfers dropped so far to respect the bounds (not counting rejections).</summary>
    public long EvictedTransfers { get; private set; }

    /// <summary>Adds one chunk.</summary>
    /// <param name="chunk">The received chunk.</param>
    /// <param name="sender">The actor that sent it (<c>Sender</c>); part of the transfer key so two senders' transfer ids never mix.</param>
    /// <returns>Incomplete, Complete with the decoded message, or Rejected with the reason.</returns>
    public AssemblyResult Add(TensorChunk chunk, IActorRef? sender = null)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var key = new TransferKey(sender, chunk.RunId ?? string.Empty, chunk.TransferId);
        _open.TryGetValue(key, out var transfer);

        string? error = Validate(chunk, transfer);
        if (error is not null)
        {
            if (transfer is not null)
                Remove(key, transfer);
            return AssemblyResult.Rejected($"Chunk {chunk.Index}/{chunk.Count} of transfer {chunk.TransferId} (run '{chunk.RunId}') rejected: {error}; transfer discarded.");
        }

        if (transfer is null)
        {
            if (_open.Count >= _maxOpenTransfers)
                EvictOldest(except: null);
            transfer = new Transfer(chunk.Count, chunk.Manifest, _nextSequence++);
            _open.Add(key, transfer);
        }

        transfer.Payloads[chunk.Index] = chunk.Payload;
        if (chunk.Index == chunk.Count - 1)
            transfer.LastBytes = chunk.Payload.Length;
        else
            transfer.InteriorBytes = chunk.Payload.Length;
        transfer.Received++;
        transfer.Bytes += chunk.Payload.Length;
        BufferedBytes += chunk.Payload.Length;

        if (transfer.Bytes > _maxMessageBytes)
        {
            Remove(key, transfer);
            return AssemblyResult.Rejected(
                $"Transfer {chunk.TransferId} (run '{chunk.RunId}') exceeds {_maxMessageBytes} bytes; discarded.");
        }

        while (BufferedBytes > _maxBufferedBytes && _open.Count > 1)
            EvictOldest(except: transfer);

        if (transfer.Received < transfer.Count)
            return AssemblyResult.Incomplete;

        Remove(key, transfer);
        return Complete(chunk, transfer);
    }

    /// <summary>Discards every incomplete transfer of a run (e.g. when the run ends); returns how many.</summary>
    /// <param name="runId">The run whose transfers to drop.</param>
    public int DropRun(string runId)
    {
        var keys = _open.Keys.Where(k => k.RunId == runId).ToList();
        foreach (var key in keys)
            Remove(key, _open[key]);
        return keys.Count;
    }

    /// <summary>Discards every incomplete transfer.</summary>
    public void Clear()
    {
        _open.Clear();
        BufferedBytes = 0;
    }

    private string? Validate(TensorChunk chunk, Transfer? transfer)
    {
        if (chunk.Count < 1 || chunk.Count > _maxChunks)
            return $"count {chunk.Count} outside 1..{_maxChunks}";
        if (chunk.Index < 0 || chunk.Index >= chunk.Count)
            return $"index {chunk.Index} outside 0..{chunk.Count - 1}";
        if (chunk.Manifest is not (TensorCodec.GradientShardManifest or TensorCodec.WeightsUpdatedManifest or TensorCodec.WeightsSnapshotManifest))
            return $"manifest '{chunk.Manifest}' is not a chunkable tensor message";
        if (chunk.Payload is null || chunk.Payload.Length == 0)
            return "empty payload";
        if (chunk.Payload.Length > _maxChunkBytes)
            return $"payload of {chunk.Payload.Length} bytes exceeds the chunk size {_maxChunkBytes}";
        if (transfer is null)
            return null;
        if (chunk.Count != transfer.Count)
            return $"count {chunk.Count} differs from the transfer's count {transfer.Count}";
        if (chunk.Manifest != transfer.Manifest)
            return $"manifest '{chunk.Manifest}' differs from the transfer's manifest '{transfer.Manifest}'";
        if (transfer.Payloads[chunk.Index] is not null)
            return $"duplicate index {chunk.Index}";

        // All chunks but the last have the same size, and the last is not larger (as Split produces them).
        bool isLast = chunk.Index == chunk.Count - 1;
        int length = chunk.Payload.Length;
        if (!isLast && transfer.InteriorBytes is { } interior && interior != length)
            return $"payload of {length} bytes differs from the transfer's chunk size {interior}";
        if (!isLast && transfer.LastBytes is { } lastBytes && lastBytes > length)
            return $"payload of {length} bytes is smaller than the transfer's last chunk ({lastBytes} bytes)";
        if (isLast && transfer.InteriorBytes is { } size && length > size)
            return $"last payload of {length} bytes exceeds the transfer's chunk size {size}";
        return null;
    }

    private AssemblyResult Complete(TensorChunk last, Transfer transfer)
    {
        ITensorMessage message;
        try
        {
            message = TensorCodec.Decode(transfer.Manifest, ChunkSegment.Join(transfer.Payloads!));
        }
        catch (SerializationException ex)
        {
            return AssemblyResult.Rejected($"Transfer {last.TransferId} (run '{last.RunId}') did not decode: {ex.Message}");
        }

        if (message.RunId != last.RunId)
            return AssemblyResult.Rejected(
                $"Transfer {last.TransferId} carried a message of run '{message.RunId}' in chunks of run '{last.RunId}'; discarded.");
        return new AssemblyResult(AssemblyStatus.Complete, message, null);
    }

    private void EvictOldest(Transfer? except)
    {
        KeyValuePair<TransferKey, Transfer>? oldest = null;
        foreach (var entry in _open)
        {
            if (ReferenceEquals(entry.Value, except))
                continue;
            if (oldest is null || entry.Value.Sequence < oldest.Value.Value.Sequence)
                oldest = entry;
        }

        if (oldest is { } victim)
        {
            Remove(victim.Key, victim.Value);
            EvictedTransfers++;
        }
    }

    private void Remove(TransferKey key, Transfer transfer)
    {
        _open.Remove(key);
        BufferedBytes -= transfer.Bytes;
    }

    private readonly record struct TransferKey(IActorRef? Sender, string RunId, long TransferId);

    private sealed class Transfer(int count, string manifest, long sequence)
    {
        public int Count { get; } = count;
        public string Manifest { get; } = manifest;
        public long Sequence { get; } = sequence;
        public byte[]?[] Payloads { get; } = new byte[]?[count];
        public int Received { get; set; }
        public long Bytes { get; set; }
        public int? InteriorBytes { get; set; }
        public int? LastBytes { get; set; }
    }

    /// <summary>Links the chunk payloads into one <see cref="ReadOnlySequence{T}"/> without copying.</summary>
    private sealed class ChunkSegment : ReadOnlySequenceSegment<byte>
    {
        private ChunkSegment(byte[] payload, long runningIndex)
        {
            Memory = payload;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Join(byte[]?[] payloads)
        {
            var first = new ChunkSegment(payloads[0]!, 0);
            var last = first;
            for (int i = 1; i < payloads.Length; i++)
            {
                var next = new ChunkSegment(payloads[i]!, last.RunningIndex + last.Memory.Length);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
