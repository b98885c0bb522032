using System.Runtime.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Transport;

/// <summary>
/// Reads tensor frames (<see cref="TensorLinkFrame"/>) from a stream and decodes them. The body buffer
/// is kept and reused, so a steady stream of same-sized tensors allocates only the decoded messages.
/// Not thread-safe: one reader loop owns it.
/// </summary>
/// <param name="stream">The connection's stream.</param>
/// <param name="maxBodyBytes">Largest frame body accepted from the peer, in bytes.</param>
internal sealed class TensorLinkFrameReader(Stream stream, long maxBodyBytes)
{
    // First size of the body buffer; it grows as bytes actually arrive, never to a declared length alone.
    private const int InitialBodyBytes = 64 * 1024;

    private readonly byte[] _header = new byte[TensorLinkFrame.HeaderBytes];
    private byte[] _body = [];

    /// <summary>Reads and decodes the next frame.</summary>
    /// <returns>The message, or null when the peer closed the stream between frames.</returns>
    /// <exception cref="EndOfStreamException">The stream ended inside a frame.</exception>
    /// <exception cref="SerializationException">The header declares an unknown kind or more than the limit, or the body is malformed.</exception>
    public async ValueTask<ITensorMessage?> ReadAsync(CancellationToken cancel)
    {
        int got = await stream.ReadAtLeastAsync(_header, _header.Length, throwOnEndOfStream: false, cancel).ConfigureAwait(false);
        if (got == 0) return null;
        if (got < _header.Length) throw new EndOfStreamException("connection closed inside a frame header");
        var (kind, length) = TensorLinkFrame.ReadHeader(_header, maxBodyBytes);
        string manifest = TensorLinkFrame.ManifestOf(kind);
        int filled = 0;
        while (filled < length)
        {
            // Grow by doubling as data comes in: a peer that declares the limit and sends a few bytes
            // makes us hold no more than twice what it sent.
            if (filled == _body.Length)
                Grow(filled, (int)Math.Min(length, Math.Max(InitialBodyBytes, 2L * _body.Length)));
            int n = await stream.ReadAsync(_body.AsMemory(filled, Math.Min(length, _body.Length) - filled), cancel).ConfigureAwait(false);
            if (n == 0) throw new EndOfStreamException($"connection closed inside a frame body ({filled} of {length} bytes)");
            filled += n;
        }
        return TensorCodec.Decode(manifest, _body.AsMemory(0, length));
    }

    private void Grow(int keep, int size)
    {
        var bigger = GC.AllocateUninitializedArray<byte>(size);
        _body.AsSpan(0, keep).CopyTo(bigger);
        _body = bigger;
    }
}
