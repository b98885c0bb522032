using System.Buffers.Binary;
using System.Runtime.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Distributed.Messages.Tests.Serialization;
using Distributed.Tests.Fuzzing;
using Distributed.Messages.Transport;
using Xunit.Abstractions;

namespace Distributed.Messages.Tests.Transport;

/// <summary>
/// Hostile input for the tensor link: hello bodies, frame headers and whole frame streams read by
/// <see cref="TensorLinkFrameReader"/> (the connection's read path, over a memory stream instead of a socket).
/// </summary>
public sealed class TensorLinkFrameFuzzTests(ITestOutputHelper output)
{
    private static readonly byte[] Token = [.. Enumerable.Range(0, TensorLinkFrame.TokenBytes).Select(i => (byte)(i * 11))];

    // The limit a parameter server with 30,000 parameters would use.
    private static readonly long MaxBody = TensorLinkFrame.MaxGradientBodyBytes(30_000, 100);

    private static readonly Mutator FrameMutator = new(BigEndian: true, Markers: [TensorLinkFrame.GradientShardKind, TensorLinkFrame.GradientTailKind, TensorLinkFrame.WeightsUpdatedKind, 0xC6]);

    private static byte[] Frame(ITensorMessage message)
    {
        byte[] body = TensorCodec.ToBytes(message);
        var frame = new byte[TensorLinkFrame.HeaderBytes + body.Length];
        TensorLinkFrame.WriteHeader(frame, TensorLinkFrame.KindOf(message), body.Length);
        body.CopyTo(frame, TensorLinkFrame.HeaderBytes);
        return frame;
    }

    /// <summary>Streams of one to three valid frames of the kinds the link carries.</summary>
    private static readonly byte[][] Streams = BuildStreams();

    private static byte[][] BuildStreams()
    {
        var frames = TensorCodecFuzzTests.SampleMessages
            .Where(m => m is GradientShard or GradientTail or WeightsUpdated)
            .Select(Frame).ToArray();
        return [.. frames, [.. frames[0], .. frames[^1]], [.. frames[1], .. frames[2], .. frames[3]]];
    }

    private static readonly byte[][] Hellos =
        [TensorLinkFrame.EncodeHello("run-1", Token), TensorLinkFrame.EncodeHello("", Token), TensorLinkFrame.EncodeHello(new string('é', 127), Token)];

    /// <summary>Reads every frame of a stream, as the connection's read loop does, until an orderly end.</summary>
    private static void ReadAll(byte[] stream, long maxBody)
    {
        var reader = new TensorLinkFrameReader(new MemoryStream(stream, writable: false), maxBody);
        while (reader.ReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult() is not null) { }
    }

    [Fact]
    public void Random_and_mutated_frames_are_rejected_with_SerializationException_or_EndOfStream()
    {
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "TensorLinkFrameReader (header + body through TensorCodec)",
            Seed = 77,
            Cases = 12_000,
            Generate = random => random.Next(20) == 0
                ? (Mutator.RandomBytes(random, random.Next(0, 64)), "random-bytes")
                : FrameMutator.Mutate(random, Streams),
            Decode = bytes => ReadAll(bytes, MaxBody),
            Expected = [typeof(SerializationException), typeof(EndOfStreamException)],
            Warmup = Streams,
            // The body buffer starts at 64 KiB and grows only with bytes received; a decode then copies the arrays out.
            AllocationBound = input => 16L * input.Length + (1 << 20),
        }, output);
    }

    [Fact]
    public void Random_and_mutated_hellos_and_headers_are_rejected_with_SerializationException()
    {
        int headers = 0;
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "TensorLinkFrame.DecodeHello and ReadHeader",
            Seed = 78,
            Cases = 12_000,
            Generate = random => random.Next(3) switch
            {
                0 => (Mutator.RandomBytes(random, random.Next(0, 2 + 255 + 40)), "random-hello"),
                1 => (Mutator.RandomBytes(random, random.Next(0, 8)), "random-header"),
                _ => new Mutator(true, [1]).Mutate(random, Hellos),
            },
            Decode = bytes =>
            {
                if (bytes.Length <= 8)
                {
                    headers++;
                    // A header is decoded against a limit and the codec's own; both must hold whatever the limit.
                    var (kind, length) = TensorLinkFrame.ReadHeader(bytes, bytes.Length == 5 ? long.MaxValue : MaxBody);
                    Assert.InRange(length, 0, TensorCodec.MaxMessageBytes);
                    _ = TensorLinkFrame.ManifestOf(kind);
                    return;
                }
                var (runId, token) = TensorLinkFrame.DecodeHello(bytes);
                Assert.Equal(TensorLinkFrame.TokenBytes, token.Length);
                Assert.Equal(bytes, TensorLinkFrame.EncodeHello(runId, token));
            },
            Expected = [typeof(SerializationException)],
            Warmup = Hellos,
        }, output);
        Assert.True(headers > 0);
    }

    [Fact]
    public void A_header_declaring_4GB_is_rejected_even_when_the_caller_allows_more()
    {
        var header = new byte[TensorLinkFrame.HeaderBytes];
        BinaryPrimitives.WriteUInt32BigEndian(header, 0xFFFF_FFFF);
        header[4] = TensorLinkFrame.WeightsUpdatedKind;
        // Was (kind, -1): the cast to int wrapped, and the read loop then asked for a negative array.
        var e = Assert.Throws<SerializationException>(() => TensorLinkFrame.ReadHeader(header, long.MaxValue));
        Assert.Contains("4294967295", e.Message);
        Assert.Throws<SerializationException>(() => TensorLinkFrame.ReadHeader(header.AsSpan(0, 4), long.MaxValue));
    }

    [Fact]
    public void Body_limits_do_not_overflow_for_huge_models()
    {
        // Was 8 × (int sum, wrapped to -2) + 1 MiB = 1,048,560 bytes: a limit that refused every real frame.
        Assert.Equal(TensorCodec.MaxMessageBytes, TensorLinkFrame.MaxWeightsBodyBytes(int.MaxValue, int.MaxValue));
        Assert.Equal(TensorCodec.MaxMessageBytes, TensorLinkFrame.MaxGradientBodyBytes(int.MaxValue, 1));
        Assert.Equal(8L * 1000 + (1 << 20), TensorLinkFrame.MaxWeightsBodyBytes(900, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorLinkFrame.MaxWeightsBodyBytes(-1, 0));
    }

    [Fact]
    public void A_frame_declaring_the_limit_but_sending_a_few_bytes_allocates_only_what_arrived()
    {
        long limit = 512L << 20;
        var frame = new byte[TensorLinkFrame.HeaderBytes + 10];
        TensorLinkFrame.WriteHeader(frame, TensorLinkFrame.WeightsUpdatedKind, (int)limit);
        Assert.Throws<EndOfStreamException>(() => ReadAll(frame, limit)); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<EndOfStreamException>(() => ReadAll(frame, limit));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes for a 15-byte stream declaring {limit:N0}");
    }

    [Fact]
    public async Task Frames_split_across_reads_are_reassembled_and_the_buffer_grows_to_large_bodies()
    {
        byte[] all = [.. Streams[^1], .. Frame(new WeightsUpdated("r", 1, 1, WireTestSupport.Floats(100_000, 3), []))];
        var reader = new TensorLinkFrameReader(new TrickleStream(all, 7_777), long.MaxValue);
        var messages = new List<ITensorMessage>();
        while (await reader.ReadAsync(CancellationToken.None) is { } m) messages.Add(m);
        Assert.Equal(4, messages.Count);
        Assert.Equal(100_000, ((WeightsUpdated)messages[^1]).Weights.Length);
    }

    /// <summary>Returns at most a fixed number of bytes per read, as a socket may.</summary>
    private sealed class TrickleStream(byte[] bytes, int perRead) : MemoryStream(bytes, writable: false)
    {
        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, perRead)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, perRead)], cancellationToken);
    }
}
