using System.Buffers.Binary;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Distributed.Tests.Fuzzing;
using Xunit.Abstractions;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>
/// Hostile chunk streams for <see cref="TensorAssembler"/>: mutated encodings cut into chunks, then
/// chunks dropped, duplicated, reordered, renumbered, relabelled or resized. The assembler must never
/// throw: every chunk is Incomplete, Complete with a decoded message, or Rejected with a reason.
/// </summary>
public sealed class TensorAssemblerFuzzTests(ITestOutputHelper output)
{
    private static readonly Mutator ChunkMutator = new(BigEndian: true, Markers: [0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD]);

    private static readonly byte[][] Encodings =
    [
        .. TensorCodecFuzzTests.SampleMessages.Where(m => m is GradientShard or WeightsUpdated or WeightsSnapshot).Select(TensorCodec.ToBytes),
    ];

    private const int Header = 7; // chunk size, operation, its 4-byte argument, manifest choice

    private static readonly string[] Manifests =
        [TensorCodec.GradientShardManifest, TensorCodec.WeightsUpdatedManifest, TensorCodec.WeightsSnapshotManifest, TensorCodec.TensorChunkManifest, "??"];

    private static (byte[], string) Generate(Random random)
    {
        var bytes = Encodings[random.Next(Encodings.Length)];
        var (payload, kind) = random.Next(3) == 0 ? (bytes, "valid") : ChunkMutator.Mutate(random, [bytes]);
        var header = new byte[Header];
        header[0] = (byte)random.Next(1, 256);
        header[1] = (byte)random.Next(12);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(2), random.Next(4) == 0 ? unchecked((int)Mutator.HugeLengths[random.Next(Mutator.HugeLengths.Length)]) : random.Next(-2, 40));
        header[6] = (byte)random.Next(Manifests.Length);
        string[] operations = ["none", "drop", "duplicate", "reverse", "count", "index", "manifest", "run-id", "empty", "oversize", "transfer", "none"];
        return ([.. header, .. payload], $"{operations[header[1]]}+{kind}");
    }

    private readonly Dictionary<string, int> _outcomes = [];

    private void Assemble(byte[] input)
    {
        int chunkBytes = input[0] * 37;
        int operation = input[1];
        int argument = BinaryPrimitives.ReadInt32LittleEndian(input.AsSpan(2));
        string manifest = Manifests[input[6] % Manifests.Length];
        byte[] encoded = input[Header..];

        int count = Math.Max(1, (encoded.Length + chunkBytes - 1) / chunkBytes);
        var chunks = Enumerable.Range(0, count)
            .Select(i => new TensorChunk("run-1", 5, i, count, manifest, encoded.AsSpan(i * chunkBytes, Math.Min(chunkBytes, encoded.Length - i * chunkBytes)).ToArray()))
            .ToList();
        int victim = (int)((uint)argument % (uint)chunks.Count);
        switch (operation)
        {
            case 1: chunks.RemoveAt(victim); break;
            case 2: chunks.Insert(0, chunks[victim]); break;
            case 3: chunks.Reverse(); break;
            case 4: chunks[victim] = chunks[victim] with { Count = argument }; break;
            case 5: chunks[victim] = chunks[victim] with { Index = argument }; break;
            case 6: chunks[victim] = chunks[victim] with { Manifest = argument % 2 == 0 ? TensorCodec.TensorChunkManifest : "GS" }; break;
            case 7: chunks[victim] = chunks[victim] with { RunId = argument % 2 == 0 ? "run-2" : null! }; break;
            case 8: chunks[victim] = chunks[victim] with { Payload = [] }; break;
            case 9: chunks[victim] = chunks[victim] with { Payload = new byte[chunkBytes + 1 + (argument & 0xFF)] }; break;
            case 10: chunks[victim] = chunks[victim] with { TransferId = argument }; break;
        }

        var assembler = new TensorAssembler(maxOpenTransfers: 2, maxChunkBytes: chunkBytes, maxMessageBytes: 1 << 20, maxBufferedBytes: 1 << 21);
        foreach (var chunk in chunks)
        {
            var result = assembler.Add(chunk);
            Assert.True(result.Status != AssemblyStatus.Complete || result.Message is not null);
            Assert.True(result.Status != AssemblyStatus.Rejected || !string.IsNullOrEmpty(result.Error));
            string shape = result.Error is null ? "" : System.Text.RegularExpressions.Regex.Replace(result.Error, @"\d+|'[^']*'", "#");
            string outcome = result.Status == AssemblyStatus.Rejected ? "Rejected: " + shape[..Math.Min(90, shape.Length)] : result.Status.ToString();
            _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
        }
        Assert.InRange(assembler.BufferedBytes, 0, 1 << 21);
    }

    [Fact]
    public void Hostile_chunk_streams_are_rejected_and_never_throw()
    {
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "TensorAssembler.Add (chunk reassembly)",
            Seed = 99,
            Cases = 6_000,
            Generate = Generate,
            Decode = Assemble,
            Expected = [],
            // The test cuts the chunks itself (two copies of the payload) before the assembler decodes them.
            AllocationBound = input => 48L * input.Length + (1 << 20),
        }, output);
        output.WriteLine("  chunk results:");
        foreach (var (outcome, count) in _outcomes.OrderByDescending(o => o.Value).Take(25))
            output.WriteLine($"  {count,7:N0}  {outcome}");
        Assert.Contains(_outcomes.Keys, k => k == nameof(AssemblyStatus.Complete));
    }
}
