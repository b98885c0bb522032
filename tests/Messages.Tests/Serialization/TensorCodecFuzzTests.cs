using System.Buffers;
using System.Runtime.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Distributed.Tests.Fuzzing;
using Xunit.Abstractions;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>
/// Hostile input for the hand-written MessagePack codec: mutated encodings of real messages of every
/// manifest, decoded under their own and under other manifests, contiguous and in segments, plus
/// random bytes and unknown manifests. Everything is either a message or a SerializationException.
/// </summary>
public sealed class TensorCodecFuzzTests(ITestOutputHelper output)
{
    // Case byte 0 picks the manifest (the last two are not manifests), byte 1 the segmentation.
    private static readonly string[] Manifests =
    [
        TensorCodec.GradientShardManifest, TensorCodec.GradientTailManifest, TensorCodec.WeightsUpdatedManifest,
        TensorCodec.WeightsSnapshotManifest, TensorCodec.TensorChunkManifest, "XX", "",
    ];

    // MessagePack codes followed by a length: bin8/16/32, str8/16/32, array16/32, map16/32.
    private static readonly Mutator MessagePackMutator = new(BigEndian: true, Markers: [0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF]);

    internal static IReadOnlyList<ITensorMessage> SampleMessages { get; } = BuildSamples();

    private static IReadOnlyList<ITensorMessage> BuildSamples()
    {
        long[] wide = WireTestSupport.Longs(300); // most values need the 64-bit exception list
        long[] narrow = [.. Enumerable.Range(-50, 20_000).Select(i => (long)i * 1000)]; // a bin32 block
        return
        [
            (ITensorMessage)WireTestSupport.Samples[nameof(GradientShard)]([]),
            new GradientShard("r", 1, 1, 0, "w", 0, [], [], [], [], [], 0),
            new GradientShard("run-ü", long.MaxValue, -1, 7, "worker-9", 3, [4, 4], [0.5, 1.5], [3, 4], narrow, WireTestSupport.Floats(70, 5), double.NaN),
            (ITensorMessage)WireTestSupport.Samples[nameof(GradientTail)]([]),
            new GradientTail("r", 2, 2, 1, "w", 0, wide, 0, 1),
            new GradientTail("r", 2, 2, 1, "w", 12, [long.MinValue, int.MinValue, int.MaxValue, 0], 5, 6),
            (ITensorMessage)WireTestSupport.Samples[nameof(WeightsUpdated)]([]),
            new WeightsUpdated("r", 3, 3, WireTestSupport.Floats(20_000, 9), [], 512),
            new WeightsUpdated("", 0, 0, [], []),
            (ITensorMessage)WireTestSupport.Samples[nameof(WeightsSnapshot)]([]),
            new WeightsSnapshot("r", 4, 4, [], WireTestSupport.Floats(5, 1)),
            (ITensorMessage)WireTestSupport.Samples[nameof(TensorChunk)]([]),
            new TensorChunk("r", -1, 0, 1, TensorCodec.GradientShardManifest, []),
        ];
    }

    private static readonly (byte Manifest, byte[] Bytes)[] Encoded =
        [.. SampleMessages.Select(m => ((byte)Array.IndexOf(Manifests, TensorCodec.ManifestOf(m)), TensorCodec.ToBytes(m)))];

    private static byte[] Case(int manifest, int segments, byte[] payload) => [(byte)manifest, (byte)segments, .. payload];

    private static (byte[], string) Generate(Random random)
    {
        int roll = random.Next(100);
        var (manifest, bytes) = Encoded[random.Next(Encoded.Length)];
        int segments = random.Next(4) == 0 ? random.Next(1, 8) : 0;
        if (roll < 5) return (Case(random.Next(Manifests.Length), segments, Mutator.RandomBytes(random, random.Next(0, 300))), "random-bytes");
        if (roll < 8) return (Case(5 + random.Next(2), segments, bytes), "unknown-manifest");
        if (roll < 12) return (Case(manifest, segments, bytes), "valid");
        var (mutated, kind) = MessagePackMutator.Mutate(random, [bytes]);
        if (roll < 20) return (Case(random.Next(5), segments, mutated), "other-manifest+" + kind);
        return (Case(manifest, segments, mutated), kind);
    }

    /// <summary>Decodes a case; an accepted message must also re-encode and decode to the same bytes.</summary>
    private static void Decode(byte[] input)
    {
        string manifest = Manifests[input[0] % Manifests.Length];
        var payload = input.AsMemory(2);
        var message = input[1] == 0
            ? TensorCodec.Decode(manifest, payload)
            : TensorCodec.Decode(manifest, Segmented(payload, input[1]));
        byte[] again = TensorCodec.ToBytes(message);
        Assert.True(again.AsSpan().SequenceEqual(TensorCodec.ToBytes(TensorCodec.Decode(manifest, again))), "an accepted message does not round-trip");
    }

    internal static ReadOnlySequence<byte> Segmented(ReadOnlyMemory<byte> bytes, int segments)
    {
        if (bytes.Length == 0) return ReadOnlySequence<byte>.Empty;
        int size = Math.Max(1, bytes.Length / segments);
        var first = new Segment(bytes[..Math.Min(size, bytes.Length)], 0);
        var last = first;
        for (int at = size; at < bytes.Length; at += size)
            last = last.Append(bytes[at..Math.Min(bytes.Length, at + size)]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    [Fact]
    public void Random_and_mutated_payloads_are_rejected_with_SerializationException()
    {
        var result = FuzzHarness.Run(new FuzzTarget
        {
            Name = "TensorCodec.Decode (GS, GT, WU, WS, TC, unknown)",
            Seed = 20240601,
            Cases = 30_000,
            Generate = Generate,
            Decode = Decode,
            Expected = [typeof(SerializationException)],
            Warmup = [.. Encoded.Select(e => Case(e.Manifest, 0, e.Bytes)), .. Encoded.Select(e => Case(e.Manifest, 3, e.Bytes))],
            // Decoding and the round trip re-encode: the message's arrays, two encodings and a decode of one.
            AllocationBound = input => 48L * input.Length + (1 << 20),
        }, output);
        Assert.True(result.Rejected > result.Ran / 2, "most mutations should be rejected");
    }

    public static TheoryData<string, string> HugeLengthPayloads() => new()
    {
        // [array of 7: version 3, RunId as str32 of 0xFFFFFFFF bytes]
        { TensorCodec.WeightsUpdatedManifest, "9703dbffffffff" },
        // WU: RunId "r", version, iteration, offset, Weights as bin32 declaring 2 GB - 1
        { TensorCodec.WeightsUpdatedManifest, "9703a1720101" + "00c67fffffff" + "0000" },
        { TensorCodec.WeightsSnapshotManifest, "9703a1720101" + "00c6ffffffff" },
        // GS: the 15-field array, then MicroShardSizes as bin32 of 0x7FFFFFFC bytes
        { TensorCodec.GradientShardManifest, "9f03a17201010" + "1a17700c67ffffffc" },
        // GT: GradientLow declares 0xFFFFFFFC bytes
        { TensorCodec.GradientTailManifest, "9c03a172010101a17700c6fffffffc" },
        // TC: Payload as bin32 of 2 GB
        { TensorCodec.TensorChunkManifest, "9703a172010001a2575ac680000000" },
        // array32 header declaring 4 billion fields
        { TensorCodec.TensorChunkManifest, "ddffffffff03" },
        // map32 where an array belongs
        { TensorCodec.GradientShardManifest, "dfffffffff" },
    };

    [Theory]
    [MemberData(nameof(HugeLengthPayloads))]
    public void A_tiny_payload_declaring_gigabytes_is_rejected_without_allocating_them(string manifest, string hex)
    {
        byte[] payload = Convert.FromHexString(hex);
        TensorCodec.IsKnownManifest(manifest); // warm the type
        Assert.Throws<SerializationException>(() => TensorCodec.Decode(manifest, payload));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<SerializationException>(() => TensorCodec.Decode(manifest, payload));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes for {payload.Length} bytes of input: {e.Message}");
    }

    [Fact]
    public void A_bin32_length_prefix_overwritten_with_2GB_is_rejected_naming_the_field()
    {
        byte[] bytes = TensorCodec.ToBytes(new WeightsUpdated("r", 3, 3, WireTestSupport.Floats(20_000, 9), []));
        int bin32 = Array.IndexOf(bytes, (byte)0xC6);
        foreach (uint huge in Mutator.HugeLengths.Where(h => h > bytes.Length))
        {
            var copy = (byte[])bytes.Clone();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(bin32 + 1), huge);
            var e = Assert.Throws<SerializationException>(() => TensorCodec.Decode(TensorCodec.WeightsUpdatedManifest, copy));
            Assert.Contains("Weights", e.Message);
        }
    }
}
