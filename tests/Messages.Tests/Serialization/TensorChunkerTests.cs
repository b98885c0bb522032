using Akka.Actor;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>Splitting large tensor messages into chunks and reassembling them, including hostile chunk streams.</summary>
public sealed class TensorChunkerTests
{
    private static readonly WeightsUpdated Large = new("run-1", 41, 40, WireTestSupport.Floats(1_200_000, 9), WireTestSupport.Floats(3_000, 10));

    private static List<TensorChunk> Shuffled(IReadOnlyList<TensorChunk> chunks, int seed)
    {
        var list = chunks.ToList();
        var random = new Random(seed);
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }

        return list;
    }

    private static AssemblyResult AddAll(TensorAssembler assembler, IEnumerable<TensorChunk> chunks, IActorRef? sender = null)
    {
        AssemblyResult last = default;
        foreach (var chunk in chunks)
        {
            last = assembler.Add(chunk, sender);
            if (last.Status != AssemblyStatus.Incomplete)
                return last;
        }

        return last;
    }

    private static TensorChunk[] SmallTransfer(long transferId, string runId = "run-1")
    {
        var message = new WeightsUpdated(runId, 1, 1, WireTestSupport.Floats(100, 3), []);
        return [.. TensorChunker.Split(message, transferId, chunkBytes: 64)];
    }

    [Fact]
    public void A_1_2M_float_WeightsUpdated_reassembles_from_shuffled_chunks()
    {
        var chunks = TensorChunker.Split(Large, transferId: 7);

        int expectedBytes = TensorCodec.ToBytes(Large).Length;
        Assert.Equal((expectedBytes + SerializationConfig.ChunkBytes - 1) / SerializationConfig.ChunkBytes, chunks.Count);
        Assert.All(chunks, c => Assert.True(c.Payload.Length <= SerializationConfig.ChunkBytes));
        Assert.All(chunks, c => Assert.Equal((7L, chunks.Count, "WU", "run-1"), (c.TransferId, c.Count, c.Manifest, c.RunId)));

        var assembler = new TensorAssembler();
        var shuffled = Shuffled(chunks, seed: 1);
        for (int i = 0; i < shuffled.Count - 1; i++)
            Assert.Equal(AssemblyStatus.Incomplete, assembler.Add(shuffled[i]).Status);
        var result = assembler.Add(shuffled[^1]);

        Assert.Equal(AssemblyStatus.Complete, result.Status);
        WireTestSupport.AssertDeepEqual(Large, result.Message);
        Assert.Equal(0, assembler.OpenTransfers);
        Assert.Equal(0, assembler.BufferedBytes);
    }

    [Fact]
    public void Each_chunk_fits_a_remote_frame_once_serialized()
    {
        foreach (var chunk in TensorChunker.Split(Large, 8))
        {
            byte[] wire = TensorCodec.ToBytes(chunk);
            Assert.True(wire.Length <= SerializationConfig.DirectSendLimitBytes, $"chunk {chunk.Index} is {wire.Length} bytes");
            WireTestSupport.AssertDeepEqual(chunk, TensorCodec.Decode(TensorCodec.TensorChunkManifest, wire));
        }
    }

    [Fact]
    public void A_gradient_shard_with_1_2M_longs_reassembles()
    {
        var shard = new GradientShard("run-1", 3, 2, 0, "worker-1", 0, [32, 32], [1.0, 2.0], [30, 31],
            WireTestSupport.Longs(1_200_000), WireTestSupport.Floats(2_000, 5), 42.0);
        var result = AddAll(new TensorAssembler(), Shuffled(TensorChunker.Split(shard, 11), seed: 2));
        Assert.Equal(AssemblyStatus.Complete, result.Status);
        WireTestSupport.AssertDeepEqual(shard, result.Message);
    }

    [Fact]
    public void Small_messages_need_no_chunking_and_still_split_into_one_chunk()
    {
        var small = new WeightsUpdated("run-1", 1, 1, new float[1000], []);
        Assert.False(TensorChunker.NeedsChunking(small, out var encoded));
        Assert.True(TensorChunker.NeedsChunking(Large, out var big));
        Assert.True(big.Length > SerializationConfig.DirectSendLimitBytes);

        var chunks = TensorChunker.Split(small, 5, encoded);
        Assert.Single(chunks);
        var result = new TensorAssembler().Add(chunks[0]);
        WireTestSupport.AssertDeepEqual(small, result.Message);
    }

    [Fact]
    public void Chunks_cannot_be_chunked()
    {
        var chunk = TensorChunker.Split(Large, 1)[0];
        Assert.Throws<ArgumentException>(() => TensorChunker.Split(chunk, 2));
    }

    [Fact]
    public void Out_of_range_or_inconsistent_chunks_are_rejected()
    {
        var good = SmallTransfer(1);
        Assert.True(good.Length > 3);

        AssemblyResult Reject(TensorChunk chunk, params TensorChunk[] before)
        {
            var assembler = new TensorAssembler();
            foreach (var b in before)
                Assert.Equal(AssemblyStatus.Incomplete, assembler.Add(b).Status);
            var result = assembler.Add(chunk);
            Assert.Equal(AssemblyStatus.Rejected, result.Status);
            Assert.NotNull(result.Error);
            Assert.Equal(0, assembler.OpenTransfers); // the whole transfer is discarded
            return result;
        }

        Assert.Contains("index", Reject(good[0] with { Index = good.Length }).Error);
        Assert.Contains("index", Reject(good[0] with { Index = -1 }).Error);
        Assert.Contains("count", Reject(good[0] with { Count = 0 }).Error);
        Assert.Contains("count", Reject(good[0] with { Count = int.MaxValue }).Error);
        Assert.Contains("count", Reject(good[1] with { Count = good.Length + 1 }, good[0]).Error);
        Assert.Contains("duplicate", Reject(good[1], good[0], good[1]).Error);
        Assert.Contains("manifest", Reject(good[1] with { Manifest = "WS" }, good[0]).Error);
        Assert.Contains("manifest", Reject(good[0] with { Manifest = "TC" }).Error);
        Assert.Contains("manifest", Reject(good[0] with { Manifest = "??" }).Error);
        Assert.Contains("empty", Reject(good[0] with { Payload = [] }).Error);
        Assert.Contains("exceeds the chunk size", Reject(good[0] with { Payload = new byte[SerializationConfig.ChunkBytes + 1] }).Error);
        Assert.Contains("differs from the transfer's chunk size", Reject(good[1] with { Payload = good[1].Payload[..10] }, good[0]).Error);
    }

    [Fact]
    public void A_corrupt_reassembled_payload_is_rejected_at_completion()
    {
        var chunks = SmallTransfer(2);
        var corrupt = chunks.ToArray();
        corrupt[0] = corrupt[0] with { Payload = [.. corrupt[0].Payload.Select(b => (byte)~b)] };

        var result = AddAll(new TensorAssembler(), corrupt);

        Assert.Equal(AssemblyStatus.Rejected, result.Status);
        Assert.Contains("did not decode", result.Error);
    }

    [Fact]
    public void A_message_of_another_run_smuggled_in_chunks_is_rejected()
    {
        var chunks = SmallTransfer(3, runId: "run-OTHER").Select(c => c with { RunId = "run-1" });
        var result = AddAll(new TensorAssembler(), chunks);
        Assert.Equal(AssemblyStatus.Rejected, result.Status);
        Assert.Contains("run-OTHER", result.Error);
    }

    [Fact]
    public void Beyond_the_open_transfer_bound_the_oldest_incomplete_transfer_is_dropped()
    {
        var assembler = new TensorAssembler(maxOpenTransfers: 16);
        var transfers = Enumerable.Range(0, 17).Select(i => SmallTransfer(100 + i)).ToList();
        foreach (var t in transfers)
            Assert.Equal(AssemblyStatus.Incomplete, assembler.Add(t[0]).Status);

        Assert.Equal(16, assembler.OpenTransfers);
        Assert.Equal(1, assembler.EvictedTransfers);

        // The newest 16 complete; the oldest restarts as a new transfer that lacks its first chunk.
        for (int i = 1; i < 17; i++)
            Assert.Equal(AssemblyStatus.Complete, AddAll(assembler, transfers[i].Skip(1)).Status);
        Assert.Equal(AssemblyStatus.Incomplete, AddAll(assembler, transfers[0].Skip(1)).Status);
        Assert.Equal(1, assembler.OpenTransfers);
        Assert.Equal(1, assembler.DropRun("run-1"));
        Assert.Equal(0, assembler.BufferedBytes);
    }

    [Fact]
    public void Buffered_bytes_are_bounded_across_transfers()
    {
        var assembler = new TensorAssembler(maxChunkBytes: 64, maxMessageBytes: 500, maxBufferedBytes: 500);
        var a = SmallTransfer(1);
        var b = SmallTransfer(2);
        AddAll(assembler, a.Take(a.Length - 1));
        AddAll(assembler, b.Take(b.Length - 1));
        Assert.True(assembler.BufferedBytes <= 500);
        Assert.Equal(1, assembler.EvictedTransfers);
        Assert.Equal(AssemblyStatus.Complete, assembler.Add(b[^1]).Status);
    }

    [Fact]
    public void A_transfer_larger_than_the_message_bound_is_rejected()
    {
        var assembler = new TensorAssembler(maxChunkBytes: 64, maxMessageBytes: 200);
        var result = AddAll(assembler, SmallTransfer(1));
        Assert.Equal(AssemblyStatus.Rejected, result.Status);
        Assert.Equal(0, assembler.OpenTransfers);
    }

    [Fact]
    public async Task Two_senders_using_the_same_transfer_id_do_not_mix()
    {
        using var system = ActorSystem.Create("chunk-senders");
        var alice = system.ActorOf(Props.Empty, "alice");
        var bob = system.ActorOf(Props.Empty, "bob");
        var fromAlice = new WeightsUpdated("run-1", 1, 1, WireTestSupport.Floats(100, 1), []);
        var fromBob = new WeightsUpdated("run-1", 2, 2, WireTestSupport.Floats(100, 2), []);
        var a = TensorChunker.Split(fromAlice, 42, chunkBytes: 64);
        var b = TensorChunker.Split(fromBob, 42, chunkBytes: 64);

        var assembler = new TensorAssembler();
        AssemblyResult ra = default, rb = default;
        for (int i = 0; i < a.Count; i++)
        {
            ra = assembler.Add(a[i], alice);
            rb = assembler.Add(b[i], bob);
        }

        WireTestSupport.AssertDeepEqual(fromAlice, ra.Message);
        WireTestSupport.AssertDeepEqual(fromBob, rb.Message);
        await system.Terminate();
    }
}
