using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;
using Distributed.Messages.Protocol;
using MessagePack;

namespace Distributed.Messages.Serialization;

/// <summary>
/// The hand-written MessagePack wire format of every <see cref="ITensorMessage"/>, usable without an
/// <c>ActorSystem</c> (the Akka serializer, the chunker and the benchmarks call it directly).
/// </summary>
/// <remarks>
/// <para>
/// Every message is one MessagePack array: a format-version byte, then the record's fields in
/// declaration order. Numeric arrays (<c>float[]</c>, <c>double[]</c>, <c>int[]</c>, <c>long[]</c>) are
/// written as ONE <c>bin</c> block of raw little-endian element bytes, never element by element, so
/// encoding and decoding are a header plus one memory copy per array.
/// </para>
/// <list type="table">
/// <listheader><term>manifest</term><description>array layout (version 3)</description></listheader>
/// <item><term><c>GS</c></term><description>[3, RunId, Iteration, Version, ShardId, WorkerId, FirstMicroShard,
/// MicroShardSizes:bin&lt;i32&gt;, MicroShardLossSums:bin&lt;f64&gt;, MicroShardCorrect:bin&lt;i32&gt;,
/// GradientLow:bin&lt;i32&gt;, GradientExceptionIndices:bin&lt;i32&gt;, GradientExceptionValues:bin&lt;i64&gt;,
/// BatchStatistics:bin&lt;f32&gt;, ComputeMilliseconds] — the int64 gradient in <see cref="CompactFixedPoint"/> form</description></item>
/// <item><term><c>GT</c></term><description>[3, RunId, Iteration, Version, ShardId, WorkerId, Offset, GradientLow:bin&lt;i32&gt;,
/// GradientExceptionIndices:bin&lt;i32&gt;, GradientExceptionValues:bin&lt;i64&gt;, FirstMicroShard, MicroShardCount]</description></item>
/// <item><term><c>WU</c>, <c>WS</c></term><description>[3, RunId, Version, Iteration, Offset, Weights:bin&lt;f32&gt;, State:bin&lt;f32&gt;] (Offset is 0 in <c>WS</c>)</description></item>
/// <item><term><c>TC</c></term><description>[3, RunId, TransferId, Index, Count, Manifest, Payload:bin]</description></item>
/// </list>
/// <para>
/// Decoding treats the bytes as hostile: the reader never recurses (the depth is fixed at one
/// array, so no nesting limit can be exceeded and <see cref="MessagePackSecurity.UntrustedData"/>'s
/// depth guard has nothing to guard), every declared length is checked against the bytes that
/// remain and against <see cref="MaxArrayBytes"/> / <see cref="MaxStringChars"/> before anything is
/// allocated, the field count must match exactly and no trailing bytes are accepted. Allocation is
/// therefore bounded by the input size. Any malformed input throws <see cref="SerializationException"/>.
/// </para>
/// </remarks>
public static partial class TensorCodec
{
    /// <summary>Manifest of <see cref="GradientShard"/>.</summary>
    public const string GradientShardManifest = "GS";

    /// <summary>Manifest of <see cref="GradientTail"/>.</summary>
    public const string GradientTailManifest = "GT";

    /// <summary>Manifest of <see cref="WeightsUpdated"/>.</summary>
    public const string WeightsUpdatedManifest = "WU";

    /// <summary>Manifest of <see cref="WeightsSnapshot"/>.</summary>
    public const string WeightsSnapshotManifest = "WS";

    /// <summary>Manifest of <see cref="TensorChunk"/>.</summary>
    public const string TensorChunkManifest = "TC";

    /// <summary>The format version written as the first array element; decoding rejects any other.</summary>
    public const byte FormatVersion = 3;

    /// <summary>Largest accepted numeric array or chunk payload, in bytes (1 GiB, i.e. at most 256 Mi floats).</summary>
    public const int MaxArrayBytes = 1 << 30;

    /// <summary>Largest accepted number of elements of one numeric array (256 Mi).</summary>
    public const int MaxArrayElements = 256 * 1024 * 1024;

    /// <summary>Largest accepted encoded message (1 GiB plus 1 MiB for headers and scalars).</summary>
    public const long MaxMessageBytes = MaxArrayBytes + (1L << 20);

    /// <summary>Longest accepted run id or worker id, in UTF-16 characters.</summary>
    public const int MaxStringChars = 256;

    /// <summary>Longest accepted manifest inside a <see cref="TensorChunk"/>, in characters.</summary>
    public const int MaxManifestChars = 8;

    private const int GradientShardFields = 15;
    private const int GradientTailFields = 12;
    private const int WeightsFields = 7;
    private const int ChunkFields = 7;

    // Strict decoder: invalid UTF-8 is an error, not a replacement character.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>True for the manifests this codec decodes.</summary>
    /// <param name="manifest">A manifest received with a message.</param>
    public static bool IsKnownManifest(string? manifest) => manifest is
        GradientShardManifest or GradientTailManifest or WeightsUpdatedManifest or WeightsSnapshotManifest or TensorChunkManifest;

    /// <summary>The short string manifest of a tensor message.</summary>
    /// <param name="message">A <see cref="GradientShard"/>, <see cref="WeightsUpdated"/>, <see cref="WeightsSnapshot"/> or <see cref="TensorChunk"/>.</param>
    /// <exception cref="SerializationException">The object is not one of the tensor message types.</exception>
    public static string ManifestOf(object message) => message switch
    {
        GradientShard => GradientShardManifest,
        GradientTail => GradientTailManifest,
        WeightsUpdated => WeightsUpdatedManifest,
        WeightsSnapshot => WeightsSnapshotManifest,
        TensorChunk => TensorChunkManifest,
        null => throw new SerializationException("Cannot serialize null as a tensor message."),
        _ => throw new SerializationException(
            $"Type {message.GetType().FullName} is not a tensor message this codec knows (GradientShard, GradientTail, WeightsUpdated, WeightsSnapshot, TensorChunk)."),
    };

    /// <summary>Encodes a tensor message; returns its manifest and its bytes.</summary>
    /// <param name="message">The message to encode.</param>
    /// <exception cref="SerializationException">The object is not a known tensor message.</exception>
    /// <exception cref="ArgumentException">A field is null or exceeds the bounds the decoder enforces.</exception>
    public static (string Manifest, byte[] Bytes) Encode(object message) => (ManifestOf(message), ToBytes(message));

    /// <summary>Encodes a tensor message to a freshly allocated array of exactly its encoded size.</summary>
    /// <param name="message">The message to encode.</param>
    /// <exception cref="SerializationException">The object is not a known tensor message.</exception>
    /// <exception cref="ArgumentException">A field is null or exceeds the bounds the decoder enforces.</exception>
    public static byte[] ToBytes(object message) => Encode(message, pooled: false).ToArray();

    /// <summary>
    /// Encodes a tensor message into a buffer rented from <see cref="TensorBufferPool"/>: the tensor
    /// link sends it and hands it back, so the steady state allocates no large arrays.
    /// </summary>
    /// <param name="message">The message to encode.</param>
    /// <returns>The frame; the caller holds it once and must <see cref="EncodedFrame.Release"/> it.</returns>
    /// <exception cref="SerializationException">The object is not a known tensor message.</exception>
    /// <exception cref="ArgumentException">A field is null or exceeds the bounds the decoder enforces.</exception>
    public static EncodedFrame EncodePooled(ITensorMessage message) => Encode(message, pooled: true).ToFrame();

    private static ExactBufferWriter Encode(object message, bool pooled) => message switch
    {
        GradientShard m => EncodeGradientShard(m, pooled),
        GradientTail m => EncodeGradientTail(m.RunId, m.Iteration, m.Version, m.ShardId, m.WorkerId, m.Offset, Checked(m.GradientFixedPoint, nameof(GradientTail), "GradientFixedPoint"), m.FirstMicroShard, m.MicroShardCount, pooled),
        WeightsUpdated m => EncodeWeights(m.RunId, m.Version, m.Iteration, Checked(m.Weights, nameof(WeightsUpdated), "Weights"), Checked(m.State, nameof(WeightsUpdated), "State"), m.Offset, nameof(WeightsUpdated), pooled),
        WeightsSnapshot m => EncodeWeights(m.RunId, m.Version, m.Iteration, Checked(m.Weights, nameof(WeightsSnapshot), "Weights"), Checked(m.State, nameof(WeightsSnapshot), "State"), 0, nameof(WeightsSnapshot), pooled),
        TensorChunk m => EncodeChunk(m, pooled),
        _ => throw new SerializationException(ManifestOf(message)), // ManifestOf throws the descriptive exception first
    };

    /// <summary>Decodes bytes produced by <see cref="ToBytes"/> with the given manifest.</summary>
    /// <param name="manifest">The manifest sent with the bytes.</param>
    /// <param name="bytes">The encoded message.</param>
    /// <exception cref="SerializationException">Unknown manifest or malformed, truncated or out-of-bounds input.</exception>
    public static ITensorMessage Decode(string manifest, ReadOnlyMemory<byte> bytes) =>
        Decode(manifest, new ReadOnlySequence<byte>(bytes));

    /// <summary>Decodes a possibly segmented buffer (e.g. reassembled chunks) without joining it first.</summary>
    /// <param name="manifest">The manifest sent with the bytes.</param>
    /// <param name="bytes">The encoded message.</param>
    /// <exception cref="SerializationException">Unknown manifest or malformed, truncated or out-of-bounds input.</exception>
    public static ITensorMessage Decode(string manifest, in ReadOnlySequence<byte> bytes)
    {
        if (!IsKnownManifest(manifest))
            throw new SerializationException($"Unknown tensor message manifest '{Truncate(manifest)}' (expected GS, GT, WU, WS or TC).");
        if (bytes.Length > MaxMessageBytes)
            throw new SerializationException($"Tensor message '{manifest}' of {bytes.Length} bytes exceeds the limit of {MaxMessageBytes} bytes.");
        try
        {
            var reader = new MessagePackReader(bytes);
            ITensorMessage result = manifest switch
            {
                GradientShardManifest => DecodeGradientShard(ref reader),
                GradientTailManifest => DecodeGradientTail(ref reader),
                WeightsUpdatedManifest => DecodeWeights(ref reader, snapshot: false),
                WeightsSnapshotManifest => DecodeWeights(ref reader, snapshot: true),
                _ => DecodeChunk(ref reader),
            };
            if (!reader.End)
                throw Malformed(manifest, $"{bytes.Length - reader.Consumed} trailing bytes after the message");
            return result;
        }
        catch (SerializationException)
        {
            throw;
        }
        catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException or OverflowException
                                       or ArgumentException or InvalidOperationException or DecoderFallbackException
                                       or IndexOutOfRangeException)
        {
            throw new SerializationException($"Malformed tensor message '{manifest}': {ex.Message}", ex);
        }
    }

    // ---------------------------------------------------------------- encoding

    /// <summary>
    /// Encodes a <see cref="WeightsUpdated"/> of parameters <paramref name="offset"/> on (read in place) into a
    /// pooled frame, so the parameter server sends part of its weight vector without copying it.
    /// </summary>
    /// <returns>The frame; the caller holds it once and must <see cref="EncodedFrame.Release"/> it.</returns>
    /// <exception cref="ArgumentException">A field exceeds the bounds the decoder enforces.</exception>
    public static EncodedFrame EncodeWeightsUpdatedPooled(string runId, long version, long iteration, ReadOnlySpan<float> weights, ReadOnlySpan<float> state, int offset) =>
        EncodeWeights(runId, version, iteration, weights, state, offset, nameof(WeightsUpdated), pooled: true).ToFrame();

    private static ExactBufferWriter EncodeWeights(string runId, long version, long iteration, ReadOnlySpan<float> weights, ReadOnlySpan<float> state, int offset,
        string type, bool pooled)
    {
        CheckString(runId, type, "RunId", MaxStringChars);
        CheckSpan(weights, type, "Weights");
        CheckSpan(state, type, "State");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);

        long size = 1 + 1 + StringSize(runId) + IntSize(version) + IntSize(iteration) + IntSize(offset) + BinSize(weights) + BinSize(state);
        var output = new ExactBufferWriter(CheckedSize(size, type), pooled);
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(WeightsFields);
        writer.Write(FormatVersion);
        writer.Write(runId);
        writer.Write(version);
        writer.Write(iteration);
        writer.Write(offset);
        WriteBlock<float>(ref writer, weights);
        WriteBlock<float>(ref writer, state);
        writer.Flush();
        return output;
    }

    private static ExactBufferWriter EncodeChunk(TensorChunk m, bool pooled)
    {
        const string type = nameof(TensorChunk);
        CheckString(m.RunId, type, nameof(m.RunId), MaxStringChars);
        CheckString(m.Manifest, type, nameof(m.Manifest), MaxManifestChars);
        CheckArray(m.Payload, type, nameof(m.Payload));

        long size = 1 + 1 + StringSize(m.RunId) + IntSize(m.TransferId) + IntSize(m.Index) + IntSize(m.Count)
            + StringSize(m.Manifest) + BinSize(m.Payload);
        var output = new ExactBufferWriter(CheckedSize(size, type), pooled);
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(ChunkFields);
        writer.Write(FormatVersion);
        writer.Write(m.RunId);
        writer.Write(m.TransferId);
        writer.Write(m.Index);
        writer.Write(m.Count);
        writer.Write(m.Manifest);
        writer.Write(m.Payload.AsSpan());
        writer.Flush();
        return output;
    }

    /// <summary>Writes a numeric array as one bin block of its raw little-endian bytes.</summary>
    private static void WriteBlock<T>(ref MessagePackWriter writer, T[] values) where T : unmanaged => WriteBlock(ref writer, (ReadOnlySpan<T>)values);

    private static void WriteBlock<T>(ref MessagePackWriter writer, ReadOnlySpan<T> values) where T : unmanaged
    {
        ReadOnlySpan<byte> raw = MemoryMarshal.AsBytes(values);
        if (BitConverter.IsLittleEndian)
        {
            writer.Write(raw); // bin header + one memcpy
            return;
        }

        // Big-endian host: the wire is little-endian, so swap a copy.
        var copy = values.ToArray();
        ReverseEndianness<T>(copy);
        writer.Write(MemoryMarshal.AsBytes(copy.AsSpan()));
    }

    private static void CheckString(string? value, string type, string field, int maxChars)
    {
        if (value is null)
            throw new ArgumentException($"{type}.{field} is null; tensor messages require a value.", field);
        if (value.Length > maxChars)
            throw new ArgumentException($"{type}.{field} has {value.Length} characters; at most {maxChars} are allowed.", field);
    }

    // Null arrays are refused with the field's name before they become empty spans.
    private static T[] Checked<T>(T[]? values, string type, string field) where T : unmanaged
    {
        CheckArray(values, type, field);
        return values!;
    }

    private static void CheckSpan<T>(ReadOnlySpan<T> values, string type, string field) where T : unmanaged
    {
        if ((long)values.Length * Unsafe.SizeOf<T>() > MaxArrayBytes)
            throw new ArgumentException(
                $"{type}.{field} has {values.Length} elements ({(long)values.Length * Unsafe.SizeOf<T>()} bytes); at most {MaxArrayBytes} bytes are allowed per array.", field);
    }

    private static void CheckArray<T>(T[]? values, string type, string field) where T : unmanaged
    {
        if (values is null)
            throw new ArgumentException($"{type}.{field} is null; send an empty array instead.", field);
        if ((long)values.Length * Unsafe.SizeOf<T>() > MaxArrayBytes)
            throw new ArgumentException(
                $"{type}.{field} has {values.Length} elements ({(long)values.Length * Unsafe.SizeOf<T>()} bytes); at most {MaxArrayBytes} bytes are allowed per array.", field);
    }

    private static int CheckedSize(long size, string type) => size <= MaxMessageBytes
        ? (int)size
        : throw new ArgumentException($"{type} would encode to {size} bytes; at most {MaxMessageBytes} are allowed.");

    // Exact MessagePack sizes, so the output is allocated once at its final length.
    private static int IntSize(long value) => MessagePackWriter.GetEncodedLength(value);

    private static long StringSize(string value)
    {
        int bytes = Encoding.UTF8.GetByteCount(value);
        int header = bytes <= 31 ? 1 : bytes <= byte.MaxValue ? 2 : bytes <= ushort.MaxValue ? 3 : 5;
        return header + bytes;
    }

    private static long BinSize<T>(T[] values) where T : unmanaged => BinSize((ReadOnlySpan<T>)values);

    private static long BinSize<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        long bytes = (long)values.Length * Unsafe.SizeOf<T>();
        return BinHeaderSize(bytes) + bytes;
    }

    private static int BinHeaderSize(long bytes) => bytes <= byte.MaxValue ? 2 : bytes <= ushort.MaxValue ? 3 : 5;

    // ---------------------------------------------------------------- decoding

    private static ITensorMessage DecodeWeights(ref MessagePackReader reader, bool snapshot)
    {
        string m = snapshot ? WeightsSnapshotManifest : WeightsUpdatedManifest;
        ReadHeader(ref reader, m, WeightsFields);
        string runId = ReadString(ref reader, m, "RunId", MaxStringChars);
        long version = reader.ReadInt64();
        long iteration = reader.ReadInt64();
        int offset = reader.ReadInt32();
        if (offset < 0 || (snapshot && offset != 0)) throw Malformed(m, $"Offset: {offset} is not allowed");
        // Pooled: a worker hands them back once copied into its model (TensorBufferPool.Return).
        float[] weights = ReadBlock<float>(ref reader, m, "Weights", pooled: true);
        float[] state = ReadBlock<float>(ref reader, m, "State", pooled: true);
        return snapshot
            ? new WeightsSnapshot(runId, version, iteration, weights, state)
            : new WeightsUpdated(runId, version, iteration, weights, state, offset);
    }

    private static TensorChunk DecodeChunk(ref MessagePackReader reader)
    {
        const string m = TensorChunkManifest;
        ReadHeader(ref reader, m, ChunkFields);
        string runId = ReadString(ref reader, m, "RunId", MaxStringChars);
        long transferId = reader.ReadInt64();
        int index = reader.ReadInt32();
        int count = reader.ReadInt32();
        string manifest = ReadString(ref reader, m, "Manifest", MaxManifestChars);
        byte[] payload = ReadBlock<byte>(ref reader, m, "Payload");
        return new TensorChunk(runId, transferId, index, count, manifest, payload);
    }

    private static void ReadHeader(ref MessagePackReader reader, string manifest, int expectedFields)
    {
        if (reader.End)
            throw Malformed(manifest, "empty payload");
        if (reader.NextMessagePackType != MessagePackType.Array)
            throw Malformed(manifest, $"expected an array, found {reader.NextMessagePackType}");
        int fields = reader.ReadArrayHeader();
        if (reader.NextMessagePackType != MessagePackType.Integer)
            throw Malformed(manifest, "missing format version");
        byte version = reader.ReadByte();
        if (version != FormatVersion)
            throw Malformed(manifest, $"unsupported format version {version} (this node reads version {FormatVersion}); are all nodes running the same build?");
        if (fields != expectedFields)
            throw Malformed(manifest, $"expected {expectedFields} fields, found {fields}");
    }

    /// <summary>Reads a str header by hand so the declared length is bounded before any allocation.</summary>
    private static string ReadString(ref MessagePackReader reader, string manifest, string field, int maxChars)
    {
        if (reader.End)
            throw Malformed(manifest, $"{field}: truncated");
        byte code = reader.NextCode;
        long length;
        if (code is >= MessagePackCode.MinFixStr and <= MessagePackCode.MaxFixStr)
        {
            reader.ReadRaw(1);
            length = code & 0x1F;
        }
        else if (code == MessagePackCode.Str8)
        {
            length = ReadBigEndianLength(ref reader, 1, manifest, field);
        }
        else if (code == MessagePackCode.Str16)
        {
            length = ReadBigEndianLength(ref reader, 2, manifest, field);
        }
        else if (code == MessagePackCode.Str32)
        {
            length = ReadBigEndianLength(ref reader, 4, manifest, field);
        }
        else
        {
            throw Malformed(manifest, $"{field}: expected a string, found {MessagePackCode.ToFormatName(code)}");
        }

        // UTF-8 needs at most 3 bytes per UTF-16 char (4 per surrogate pair, i.e. 2 per char).
        if (length > (long)maxChars * 3)
            throw Malformed(manifest, $"{field}: {length} bytes declared, at most {maxChars} characters are allowed");
        CheckRemaining(ref reader, length, manifest, field);
        ReadOnlySequence<byte> raw = reader.ReadRaw(length);
        string value = raw.IsSingleSegment ? StrictUtf8.GetString(raw.FirstSpan) : StrictUtf8.GetString(raw.ToArray());
        if (value.Length > maxChars)
            throw Malformed(manifest, $"{field}: {value.Length} characters, at most {maxChars} are allowed");
        return value;
    }

    /// <summary>
    /// Reads a bin block of raw little-endian elements. The header is parsed by hand: the declared
    /// length is checked against <see cref="MaxArrayBytes"/>, the remaining input and the element
    /// size before the array is allocated.
    /// </summary>
    private static T[] ReadBlock<T>(ref MessagePackReader reader, string manifest, string field, bool pooled = false) where T : unmanaged
    {
        ReadOnlySequence<byte> raw = ReadRawBlock(ref reader, manifest, field, Unsafe.SizeOf<T>());
        if (raw.Length == 0)
            return [];
        int count = (int)(raw.Length / Unsafe.SizeOf<T>());
        T[] values = pooled ? TensorBufferPool.Rent<T>(count) : GC.AllocateUninitializedArray<T>(count);
        raw.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        if (!BitConverter.IsLittleEndian)
            ReverseEndianness<T>(values);
        return values;
    }

    /// <summary>The bytes of a bin block whose length is checked as <see cref="ReadBlock{T}"/> checks it.</summary>
    private static ReadOnlySequence<byte> ReadRawBlock(ref MessagePackReader reader, string manifest, string field, int elementSize)
    {
        if (reader.End)
            throw Malformed(manifest, $"{field}: truncated");
        byte code = reader.NextCode;
        long length = code switch
        {
            MessagePackCode.Bin8 => ReadBigEndianLength(ref reader, 1, manifest, field),
            MessagePackCode.Bin16 => ReadBigEndianLength(ref reader, 2, manifest, field),
            MessagePackCode.Bin32 => ReadBigEndianLength(ref reader, 4, manifest, field),
            _ => throw Malformed(manifest, $"{field}: expected a bin block, found {MessagePackCode.ToFormatName(code)}"),
        };
        if (length > MaxArrayBytes)
            throw Malformed(manifest, $"{field}: {length} bytes declared, at most {MaxArrayBytes} are allowed");
        if (length % elementSize != 0)
            throw Malformed(manifest, $"{field}: {length} bytes is not a multiple of the element size {elementSize}");
        if (length / elementSize > MaxArrayElements)
            throw Malformed(manifest, $"{field}: {length / elementSize} elements declared, at most {MaxArrayElements} are allowed");
        CheckRemaining(ref reader, length, manifest, field);
        return reader.ReadRaw(length);
    }

    /// <summary>Consumes a one-byte code followed by a big-endian unsigned length of <paramref name="width"/> bytes.</summary>
    private static long ReadBigEndianLength(ref MessagePackReader reader, int width, string manifest, string field)
    {
        CheckRemaining(ref reader, 1 + width, manifest, field);
        ReadOnlySequence<byte> header = reader.ReadRaw(1 + width);
        Span<byte> bytes = stackalloc byte[5];
        header.CopyTo(bytes);
        return width switch
        {
            1 => bytes[1],
            2 => BinaryPrimitives.ReadUInt16BigEndian(bytes[1..]),
            _ => BinaryPrimitives.ReadUInt32BigEndian(bytes[1..]),
        };
    }

    private static void CheckRemaining(ref MessagePackReader reader, long needed, string manifest, string field)
    {
        long remaining = reader.Sequence.Length - reader.Consumed;
        if (needed > remaining)
            throw Malformed(manifest, $"{field}: {needed} bytes declared but only {remaining} remain (truncated or corrupt payload)");
    }

    private static void ReverseEndianness<T>(Span<T> values) where T : unmanaged
    {
        switch (Unsafe.SizeOf<T>())
        {
            case 1:
                break;
            case 2:
                var s16 = MemoryMarshal.Cast<T, short>(values);
                BinaryPrimitives.ReverseEndianness(s16, s16);
                break;
            case 4:
                var s32 = MemoryMarshal.Cast<T, int>(values);
                BinaryPrimitives.ReverseEndianness(s32, s32);
                break;
            case 8:
                var s64 = MemoryMarshal.Cast<T, long>(values);
                BinaryPrimitives.ReverseEndianness(s64, s64);
                break;
            default:
                throw new NotSupportedException($"No endianness conversion for {typeof(T).Name}.");
        }
    }

    private static SerializationException Malformed(string manifest, string detail) =>
        new($"Malformed tensor message '{manifest}': {detail}.");

    private static string Truncate(string? s) => s is null ? "<null>" : s.Length <= 32 ? s : s[..32] + "…";

    /// <summary>
    /// An <see cref="IBufferWriter{T}"/> over one array allocated (or rented from
    /// <see cref="TensorBufferPool"/>) at the exact encoded size, so the result is returned without a
    /// final copy. Should a write ask for more than the remaining space (MessagePackWriter requests up
    /// to 9 bytes for a small integer), it grows and the result is trimmed.
    /// </summary>
    private sealed class ExactBufferWriter(int expectedSize, bool pooled) : IBufferWriter<byte>
    {
        private byte[] _buffer = pooled ? TensorBufferPool.RentBytes(expectedSize) : GC.AllocateUninitializedArray<byte>(expectedSize);
        private int _written;

        public void Advance(int count) => _written += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _buffer.AsMemory(_written);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _buffer.AsSpan(_written);
        }

        private void Ensure(int sizeHint)
        {
            int needed = Math.Max(sizeHint, 1);
            if (_buffer.Length - _written >= needed)
                return;
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _written + needed));
        }

        public byte[] ToArray() => _written == _buffer.Length ? _buffer : _buffer.AsSpan(0, _written).ToArray();

        public EncodedFrame ToFrame() => new(_buffer, _written);
    }
}
