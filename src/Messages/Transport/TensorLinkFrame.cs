using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Transport;

/// <summary>
/// The tensor link's frame layout: a 5-byte header (body length as big-endian uint32, then a kind
/// byte) followed by the body. A hello body is <c>[version u8][run id length u8][run id UTF-8][token]</c>;
/// a tensor body is exactly what <see cref="TensorCodec"/> encodes for the message the kind names.
/// </summary>
public static class TensorLinkFrame
{
    /// <summary>Header size in bytes.</summary>
    public const int HeaderBytes = 5;

    /// <summary>Kind byte of the client's first frame.</summary>
    public const byte HelloKind = (byte)'H';

    /// <summary>Kind byte of a <see cref="GradientShard"/>.</summary>
    public const byte GradientShardKind = (byte)'G';

    /// <summary>Kind byte of a <see cref="GradientTail"/>.</summary>
    public const byte GradientTailKind = (byte)'T';

    /// <summary>Kind byte of a <see cref="WeightsUpdated"/>.</summary>
    public const byte WeightsUpdatedKind = (byte)'W';

    /// <summary>Hello format version.</summary>
    public const byte HelloVersion = 1;

    /// <summary>Length of the secret a worker presents in its hello, in bytes.</summary>
    public const int TokenBytes = 32;

    /// <summary>Largest hello body accepted before the peer is known.</summary>
    public const int MaxHelloBytes = 2 + 255 + TokenBytes;

    /// <summary>
    /// Largest frame body a worker accepts: a weight broadcast is 4 bytes per parameter and state
    /// value; twice that plus 1 MiB leaves room for the envelope.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative.</exception>
    public static long MaxWeightsBodyBytes(int parameters, int stateValues) =>
        Math.Min(TensorCodec.MaxMessageBytes, 8L * Values(parameters, stateValues) + (1 << 20));

    /// <summary>
    /// Largest frame body the parameter server accepts: a gradient shard is at most 12 bytes per
    /// parameter (int32 plus a 64-bit exception) and 4 per state value; bounded by <see cref="TensorCodec.MaxMessageBytes"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative.</exception>
    public static long MaxGradientBodyBytes(int parameters, int stateValues) =>
        Math.Min(TensorCodec.MaxMessageBytes, 16L * Values(parameters, stateValues) + (1 << 20));

    // Summed in 64 bits: two large int counts overflow an int sum and would give a negative limit.
    private static long Values(int parameters, int stateValues)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(parameters);
        ArgumentOutOfRangeException.ThrowIfNegative(stateValues);
        return (long)parameters + stateValues;
    }

    /// <summary>The kind byte for a tensor message the link carries.</summary>
    /// <exception cref="ArgumentException">The link does not carry this message type (chunks and snapshots stay on Akka.Remote).</exception>
    public static byte KindOf(ITensorMessage message) => message switch
    {
        GradientShard => GradientShardKind,
        GradientTail => GradientTailKind,
        WeightsUpdated => WeightsUpdatedKind,
        _ => throw new ArgumentException($"The tensor link does not carry {message.GetType().Name}.", nameof(message)),
    };

    /// <summary>The <see cref="TensorCodec"/> manifest for a tensor kind byte.</summary>
    /// <exception cref="SerializationException">Not a tensor kind.</exception>
    public static string ManifestOf(byte kind) => kind switch
    {
        GradientShardKind => TensorCodec.GradientShardManifest,
        GradientTailKind => TensorCodec.GradientTailManifest,
        WeightsUpdatedKind => TensorCodec.WeightsUpdatedManifest,
        _ => throw new SerializationException($"Unknown tensor link frame kind 0x{kind:x2}."),
    };

    /// <summary>Writes a header for a body of <paramref name="bodyLength"/> bytes.</summary>
    public static void WriteHeader(Span<byte> header, byte kind, int bodyLength)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)bodyLength);
        header[4] = kind;
    }

    /// <summary>Reads and checks a header.</summary>
    /// <exception cref="SerializationException">The header is shorter than <see cref="HeaderBytes"/>, or the declared length exceeds
    /// <paramref name="maxBodyBytes"/> or <see cref="TensorCodec.MaxMessageBytes"/>.</exception>
    public static (byte Kind, int Length) ReadHeader(ReadOnlySpan<byte> header, long maxBodyBytes)
    {
        if (header.Length < HeaderBytes)
            throw new SerializationException($"Tensor link frame header of {header.Length} bytes; a header is {HeaderBytes} bytes.");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
        // The codec's own cap keeps the length an int whatever limit the caller passes.
        long limit = Math.Min(maxBodyBytes, TensorCodec.MaxMessageBytes);
        if (length > limit)
            throw new SerializationException($"Tensor link frame declares {length} bytes, more than the limit of {limit}.");
        return (header[4], (int)length);
    }

    /// <summary>Encodes a hello body.</summary>
    /// <exception cref="ArgumentException">The run id is longer than 255 UTF-8 bytes or the token has the wrong length.</exception>
    public static byte[] EncodeHello(string runId, ReadOnlySpan<byte> token)
    {
        byte[] id = Encoding.UTF8.GetBytes(runId);
        if (id.Length > 255) throw new ArgumentException("The run id is longer than 255 UTF-8 bytes.", nameof(runId));
        if (token.Length != TokenBytes) throw new ArgumentException($"The token must be {TokenBytes} bytes.", nameof(token));
        var body = new byte[2 + id.Length + TokenBytes];
        body[0] = HelloVersion;
        body[1] = (byte)id.Length;
        id.CopyTo(body, 2);
        token.CopyTo(body.AsSpan(2 + id.Length));
        return body;
    }

    /// <summary>Decodes a hello body.</summary>
    /// <exception cref="SerializationException">Wrong version, inconsistent lengths or invalid UTF-8.</exception>
    public static (string RunId, byte[] Token) DecodeHello(ReadOnlySpan<byte> body)
    {
        if (body.Length < 2 || body[0] != HelloVersion)
            throw new SerializationException("Tensor link hello has an unknown version.");
        int idLength = body[1];
        if (body.Length != 2 + idLength + TokenBytes)
            throw new SerializationException($"Tensor link hello of {body.Length} bytes does not match its run id length {idLength}.");
        string runId;
        try { runId = new UTF8Encoding(false, true).GetString(body.Slice(2, idLength)); }
        catch (DecoderFallbackException e) { throw new SerializationException("Tensor link hello has an invalid run id.", e); }
        return (runId, body.Slice(2 + idLength).ToArray());
    }
}
