using Distributed.Messages.Protocol;

namespace Distributed.Messages.Serialization;

/// <summary>
/// Cuts a large <see cref="ITensorMessage"/> into <see cref="TensorChunk"/>s that fit Akka.Remote's
/// frame (see <see cref="SerializationConfig"/> for why frames are kept short). The receiver puts them
/// back together with a <see cref="TensorAssembler"/>.
/// </summary>
/// <example>
/// <code>
/// if (TensorChunker.NeedsChunking(update, out var bytes))
///     foreach (var chunk in TensorChunker.Split(update, TensorChunker.NewTransferId(), bytes)) worker.Tell(chunk, Self);
/// else
///     worker.Tell(update, Self);
/// </code>
/// </example>
public static class TensorChunker
{
    /// <summary>A random transfer id; unique enough that two senders never collide at one receiver.</summary>
    public static long NewTransferId() => Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>
    /// Encodes <paramref name="message"/> and tells whether it is larger than
    /// <see cref="SerializationConfig.DirectSendLimitBytes"/>, i.e. must be chunked to cross the wire.
    /// </summary>
    /// <param name="message">A tensor message other than a <see cref="TensorChunk"/>.</param>
    /// <param name="encoded">The encoded message, to pass on to <see cref="Split(ITensorMessage, long, byte[], int)"/>.</param>
    public static bool NeedsChunking(ITensorMessage message, out byte[] encoded)
    {
        encoded = TensorCodec.ToBytes(message);
        return encoded.Length > SerializationConfig.DirectSendLimitBytes;
    }

    /// <summary>Encodes <paramref name="message"/> and cuts it into chunks of at most <paramref name="chunkBytes"/> bytes.</summary>
    /// <param name="message">A <see cref="GradientShard"/>, <see cref="WeightsUpdated"/> or <see cref="WeightsSnapshot"/>.</param>
    /// <param name="transferId">Identifies this transfer at the receiver; use <see cref="NewTransferId"/>.</param>
    /// <param name="chunkBytes">Payload bytes per chunk.</param>
    /// <returns>At least one chunk, in index order.</returns>
    /// <exception cref="ArgumentException">The message is a <see cref="TensorChunk"/> or <paramref name="chunkBytes"/> is out of range.</exception>
    public static IReadOnlyList<TensorChunk> Split(ITensorMessage message, long transferId, int chunkBytes = SerializationConfig.ChunkBytes)
    {
        ArgumentNullException.ThrowIfNull(message);
        RejectChunk(message);
        return Split(message, transferId, TensorCodec.ToBytes(message), chunkBytes);
    }

    /// <summary>Cuts an already encoded message (from <see cref="NeedsChunking"/>) into chunks.</summary>
    /// <param name="message">The message <paramref name="encoded"/> was produced from (for its run id and manifest).</param>
    /// <param name="transferId">Identifies this transfer at the receiver; use <see cref="NewTransferId"/>.</param>
    /// <param name="encoded">The output of <see cref="TensorCodec.ToBytes"/> for <paramref name="message"/>.</param>
    /// <param name="chunkBytes">Payload bytes per chunk.</param>
    /// <returns>At least one chunk, in index order.</returns>
    /// <exception cref="ArgumentException">The message is a <see cref="TensorChunk"/> or <paramref name="chunkBytes"/> is out of range.</exception>
    public static IReadOnlyList<TensorChunk> Split(ITensorMessage message, long transferId, byte[] encoded, int chunkBytes = SerializationConfig.ChunkBytes)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(encoded);
        RejectChunk(message);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkBytes, TensorCodec.MaxArrayBytes);

        string manifest = TensorCodec.ManifestOf(message);
        int count = (int)Math.Max(1, ((long)encoded.Length + chunkBytes - 1) / chunkBytes);
        var chunks = new TensorChunk[count];
        for (int i = 0; i < count; i++)
        {
            int offset = i * chunkBytes; // < encoded.Length ≤ MaxMessageBytes, no overflow
            int length = Math.Min(chunkBytes, encoded.Length - offset);
            chunks[i] = new TensorChunk(message.RunId, transferId, i, count, manifest, encoded.AsSpan(offset, length).ToArray());
        }

        return chunks;
    }

    private static void RejectChunk(ITensorMessage message)
    {
        if (message is TensorChunk)
            throw new ArgumentException("A TensorChunk cannot be chunked again.", nameof(message));
    }
}
