using System.Buffers.Binary;
using System.Runtime.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using MessagePack;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>The tensor wire format and its behaviour on hostile input, without an ActorSystem.</summary>
public sealed class TensorCodecTests
{
    private static byte[] Encode(string name) => TensorCodec.ToBytes(WireTestSupport.Samples[name]([]));

    /// <summary>A WeightsUpdated written by hand: [header, version, "run-1", 3, 4, offset 0] followed by <paramref name="tail"/> raw bytes.</summary>
    private static byte[] Weights(byte[] tail, int fields = 7, byte version = TensorCodec.FormatVersion)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(fields);
        writer.Write(version);
        writer.Write("run-1");
        writer.Write(3L);
        writer.Write(4L);
        writer.Write(0);
        writer.WriteRaw(tail);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static SerializationException Rejects(string manifest, byte[] bytes) =>
        Assert.Throws<SerializationException>(() => TensorCodec.Decode(manifest, bytes));

    [Fact]
    public void Float_arrays_are_one_bin_block_of_raw_little_endian_bytes()
    {
        var message = new WeightsUpdated("r", 1, 2, [1f, -2.5f, float.NaN], [3f]);
        byte[] bytes = TensorCodec.ToBytes(message);

        // [0x97, 3, "r", 1, 2, 0, bin8(12) 1f -2.5f NaN, bin8(4) 3f]
        Assert.Equal(0x97, bytes[0]); // fixarray of 7
        Assert.Equal(TensorCodec.FormatVersion, bytes[1]);
        int weights = 7;
        Assert.Equal(MessagePackCode.Bin8, bytes[weights]);
        Assert.Equal(12, bytes[weights + 1]);
        Assert.Equal(1f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(weights + 2)));
        Assert.Equal(-2.5f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(weights + 6)));
        Assert.Equal(MessagePackCode.Bin8, bytes[weights + 14]);
        Assert.Equal(bytes.Length, weights + 14 + 2 + 4);
    }

    [Fact]
    public void A_part_of_the_weights_keeps_its_offset_and_encodes_in_place_as_the_message_would()
    {
        var all = WireTestSupport.Floats(1000, 7);
        var tail = new WeightsUpdated("run-1", 9, 8, all[600..], [], 600);
        var decoded = (WeightsUpdated)TensorCodec.Decode(TensorCodec.WeightsUpdatedManifest, TensorCodec.ToBytes(tail));
        Assert.Equal(600, decoded.Offset);
        Assert.Equal(all[600..], decoded.Weights);

        var frame = TensorCodec.EncodeWeightsUpdatedPooled("run-1", 9, 8, all.AsSpan(600), [], 600);
        try { Assert.Equal(TensorCodec.ToBytes(tail), frame.Memory.ToArray()); }
        finally { frame.Release(); }
    }

    [Fact]
    public void A_snapshot_with_an_offset_or_weights_with_a_negative_one_are_rejected()
    {
        byte[] snapshot = TensorCodec.ToBytes(new WeightsUpdated("run-1", 1, 1, [1f], [], 5));
        Assert.Contains("Offset", Rejects(TensorCodec.WeightsSnapshotManifest, snapshot).Message);
        var negative = new System.Buffers.ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(negative);
        w.WriteArrayHeader(7);
        w.Write(TensorCodec.FormatVersion);
        w.Write("run-1");
        w.Write(3L);
        w.Write(4L);
        w.Write(-1);
        w.Write(ReadOnlySpan<byte>.Empty);
        w.Write(ReadOnlySpan<byte>.Empty);
        w.Flush();
        Assert.Contains("Offset", Rejects(TensorCodec.WeightsUpdatedManifest, negative.WrittenSpan.ToArray()).Message);
    }

    [Fact]
    public void Encoded_size_is_exact_for_large_messages()
    {
        var weights = WireTestSupport.Floats(1_200_000, 1);
        byte[] bytes = TensorCodec.ToBytes(new WeightsUpdated("run-1", 5, 6, weights, []));
        // header + version + fixstr(5) "run-1" + 5 + 6 + offset 0 + bin32 header + data + empty bin8
        Assert.Equal(1 + 1 + 6 + 1 + 1 + 1 + 5 + weights.Length * 4 + 2, bytes.Length);
    }

    [Theory]
    [MemberData(nameof(WireTestSupport.TensorMessageNames), MemberType = typeof(WireTestSupport))]
    public void Every_truncation_is_rejected(string name)
    {
        byte[] bytes = Encode(name);
        string manifest = TensorCodec.ManifestOf(WireTestSupport.Samples[name]([]));
        for (int length = 0; length < bytes.Length; length += length < 64 ? 1 : 97)
            Rejects(manifest, bytes[..length]);
    }

    [Theory]
    [MemberData(nameof(WireTestSupport.TensorMessageNames), MemberType = typeof(WireTestSupport))]
    public void Random_corruption_yields_a_message_or_a_serialization_exception(string name)
    {
        byte[] valid = Encode(name);
        string manifest = TensorCodec.ManifestOf(WireTestSupport.Samples[name]([]));
        var random = new Random(name.Length);
        for (int i = 0; i < 2000; i++)
        {
            byte[] corrupt = (byte[])valid.Clone();
            int flips = 1 + random.Next(3);
            for (int f = 0; f < flips; f++)
                corrupt[random.Next(Math.Min(corrupt.Length, 64))] = (byte)random.Next(256);
            try
            {
                Assert.NotNull(TensorCodec.Decode(manifest, corrupt));
            }
            catch (SerializationException)
            {
            }
        }
    }

    [Fact]
    public void A_2_GB_length_prefix_is_rejected_without_allocating()
    {
        // bin32 declaring 2 GiB - 4 bytes of weights, followed by 8 real bytes.
        byte[] hostile = Weights([MessagePackCode.Bin32, 0x7F, 0xFF, 0xFF, 0xFC, 1, 2, 3, 4, 5, 6, 7, 8]);
        byte[] justOverLimit = Weights([MessagePackCode.Bin32, 0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4]);
        Rejects(TensorCodec.WeightsUpdatedManifest, hostile); // warm up (JIT, exception machinery)

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Rejects(TensorCodec.WeightsUpdatedManifest, hostile);
        Rejects(TensorCodec.WeightsUpdatedManifest, justOverLimit);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("Weights", ex.Message);
        Assert.True(allocated < 64 * 1024, $"Rejecting a 2 GB length prefix allocated {allocated} bytes.");
    }

    [Fact]
    public void A_4_GB_length_prefix_and_a_huge_string_length_are_rejected_without_allocating()
    {
        byte[] bin4G = Weights([MessagePackCode.Bin32, 0xFF, 0xFF, 0xFF, 0xFC, 0, 0, 0, 0]);

        var hugeString = new System.Buffers.ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(hugeString);
        w.WriteArrayHeader(7);
        w.Write(TensorCodec.FormatVersion);
        w.WriteRaw([MessagePackCode.Str32, 0x7F, 0xFF, 0xFF, 0xFF, (byte)'r']);
        w.Flush();
        byte[] str2G = hugeString.WrittenSpan.ToArray();
        Rejects(TensorCodec.WeightsUpdatedManifest, bin4G);
        Rejects(TensorCodec.WeightsUpdatedManifest, str2G);

        long before = GC.GetAllocatedBytesForCurrentThread();
        Rejects(TensorCodec.WeightsUpdatedManifest, bin4G);
        var ex = Rejects(TensorCodec.WeightsUpdatedManifest, str2G);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("RunId", ex.Message);
        Assert.True(allocated < 64 * 1024, $"Rejecting huge length prefixes allocated {allocated} bytes.");
    }

    [Fact]
    public void A_bin_length_that_is_not_a_multiple_of_the_element_size_is_rejected()
    {
        byte[] bytes = Weights([MessagePackCode.Bin8, 7, 1, 2, 3, 4, 5, 6, 7, MessagePackCode.Bin8, 0]);
        var ex = Rejects(TensorCodec.WeightsUpdatedManifest, bytes);
        Assert.Contains("multiple of the element size 4", ex.Message);
    }

    [Fact]
    public void Structural_violations_are_rejected()
    {
        // Wrong version.
        Assert.Contains("version 9", Rejects("WU", Weights([MessagePackCode.Bin8, 0, MessagePackCode.Bin8, 0], version: 9)).Message);
        // Wrong field count.
        Rejects("WU", Weights([MessagePackCode.Bin8, 0, MessagePackCode.Bin8, 0, 0xC0], fields: 7));
        // Trailing bytes.
        Assert.Contains("trailing", Rejects("WU", Weights([MessagePackCode.Bin8, 0, MessagePackCode.Bin8, 0, 0x01])).Message);
        // The well-formed baseline is accepted.
        Assert.IsType<WeightsUpdated>(TensorCodec.Decode("WU", Weights([MessagePackCode.Bin8, 0, MessagePackCode.Bin8, 0])));
        // An array where a bin block belongs (no nesting is ever read).
        Rejects("WU", Weights([0x91, 0x91, 0x91, 0x90, MessagePackCode.Bin8, 0]));
        // Nil where a string belongs.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var w5 = new MessagePackWriter(buffer);
        w5.WriteArrayHeader(6);
        w5.Write(TensorCodec.FormatVersion);
        w5.WriteNil();
        w5.Flush();
        Rejects("WU", buffer.WrittenSpan.ToArray());
        // Not an array at all; a map; an empty payload.
        Rejects("WU", [0x01]);
        Rejects("WU", [0x80]);
        Rejects("WU", []);
        // A valid message under the wrong manifest.
        Rejects("GS", Encode(nameof(WeightsUpdated)));
        Rejects("TC", Encode(nameof(WeightsUpdated)));
    }

    [Fact]
    public void Over_long_strings_and_invalid_utf8_are_rejected()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(7);
        writer.Write(TensorCodec.FormatVersion);
        writer.Write(new string('x', TensorCodec.MaxStringChars + 1));
        writer.Flush();
        Assert.Contains("RunId", Rejects("WU", buffer.WrittenSpan.ToArray()).Message);

        var utf8 = new System.Buffers.ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(utf8);
        w.WriteArrayHeader(7);
        w.Write(TensorCodec.FormatVersion);
        w.WriteRaw([0xA2, 0xC3, 0x28]); // fixstr(2) with an invalid UTF-8 sequence
        w.Write(1L);
        w.Write(1L);
        w.Write(0);
        w.Write(ReadOnlySpan<byte>.Empty);
        w.Write(ReadOnlySpan<byte>.Empty);
        w.Flush();
        Rejects("WU", utf8.WrittenSpan.ToArray());
    }

    [Fact]
    public void Unknown_manifest_is_rejected()
    {
        byte[] bytes = Encode(nameof(WeightsUpdated));
        Assert.Contains("Unknown tensor message manifest", Rejects("XX", bytes).Message);
        Assert.Throws<SerializationException>(() => TensorCodec.Decode(null!, bytes));
    }

    [Fact]
    public void Encoding_refuses_what_decoding_would_refuse()
    {
        Assert.Throws<ArgumentException>(() => TensorCodec.ToBytes(new WeightsUpdated(new string('r', 300), 1, 1, [], [])));
        Assert.Throws<ArgumentException>(() => TensorCodec.ToBytes(new WeightsUpdated("r", 1, 1, null!, [])));
        Assert.Throws<ArgumentException>(() => TensorCodec.ToBytes(new TensorChunk("r", 1, 0, 1, "TOO-LONG-MANIFEST", [1])));
        Assert.Throws<SerializationException>(() => TensorCodec.ToBytes(new GetWeights("r")));
        Assert.Throws<SerializationException>(() => TensorCodec.ManifestOf("not a message"));
    }

    [Fact]
    public void Extreme_scalar_values_round_trip()
    {
        var message = new GradientShard("ü-run-✓", long.MinValue, long.MaxValue, int.MinValue, "", int.MaxValue,
            [], [double.NaN, double.NegativeInfinity, -0.0], [], [long.MinValue, -1, 0, long.MaxValue], [float.Epsilon], double.MaxValue);
        var copy = TensorCodec.Decode(TensorCodec.GradientShardManifest, TensorCodec.ToBytes(message));
        WireTestSupport.AssertDeepEqual(message, copy);
    }

    [Fact]
    public void The_field_by_field_comparer_sees_array_differences()
    {
        var a = new WeightsUpdated("r", 1, 1, [1f, 2f, 3f], []);
        WireTestSupport.AssertDeepEqual(a, a with { Weights = [1f, 2f, 3f] });
        Assert.ThrowsAny<Exception>(() => WireTestSupport.AssertDeepEqual(a, a with { Weights = [1f, 2f, 4f] }));
        Assert.ThrowsAny<Exception>(() => WireTestSupport.AssertDeepEqual(a, a with { Weights = [1f, 2f] }));
        Assert.ThrowsAny<Exception>(() => WireTestSupport.AssertDeepEqual(a, a with { Weights = [1f, 2f, -3f], State = [] }));
        Assert.ThrowsAny<Exception>(() => WireTestSupport.AssertDeepEqual(a, a with { Version = 2 }));
        Assert.ThrowsAny<Exception>(() => WireTestSupport.AssertDeepEqual(new[] { 0f }, new[] { -0f }));
    }
}
