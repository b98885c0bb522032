using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Distributed.Engine.Checkpoints;
using Distributed.Engine.Models;
using Distributed.Engine.Tests.Models;
using Distributed.Tests.Fuzzing;
using Xunit.Abstractions;

namespace Distributed.Engine.Tests.Checkpoints;

/// <summary>
/// Hostile checkpoints: real files written by <see cref="Checkpoint.Save"/>, mutated as bytes (the
/// checksum catches those), mutated and re-sealed with a fresh SHA-256 (so the parser behind the
/// checksum sees them), with the JSON header mutated and the file rebuilt around it, with lengths and
/// block counts overwritten by huge values, and random bytes. Parsing and rebuilding the model either
/// succeed or throw CheckpointException, and nothing declared is allocated before it is checked
/// against the file's size.
/// </summary>
public sealed class CheckpointFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Prefix = 16, Digest = 32;
    private const long BuildLimit = 300_000;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ckpt-fuzz-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly string[] Specs =
    [
        """{"input_shape": [6, 6, 1], "layers": [{"class_name": "Conv2D", "filters": 3, "kernel_size": 3}, {"class_name": "BatchNormalization"}, {"class_name": "Flatten"}, {"class_name": "Dense", "units": 4}]}""",
        """{"input_shape": [5], "layers": [{"class_name": "Dense", "units": 3, "activation": "relu"}, {"class_name": "Dense", "units": 2}]}""",
    ];

    private byte[][] Samples()
    {
        Directory.CreateDirectory(_dir);
        var samples = new List<byte[]>();
        for (int i = 0; i < Specs.Length; i++)
        {
            var spec = ModelSpec.Parse(Specs[i]);
            var model = spec.Build();
            model.InitializeWeights((ulong)i + 1);
            float[]? velocity = i == 0 ? [.. Enumerable.Range(0, model.Weights.Length).Select(v => v * 0.01f)] : null;
            string path = Path.Combine(_dir, $"sample-{i}.ckpt");
            Checkpoint.Capture(model, spec.ToJson(), velocity, i, 10 * i, new Dictionary<string, string> { ["lr"] = "0.1" }).Save(path);
            samples.Add(File.ReadAllBytes(path));
        }
        return [.. samples];
    }

    /// <summary>Replaces the trailing SHA-256 with the digest of everything before it.</summary>
    internal static byte[] Reseal(byte[] bytes)
    {
        if (bytes.Length < Prefix + Digest) return bytes;
        var copy = (byte[])bytes.Clone();
        SHA256.HashData(copy.AsSpan(0, copy.Length - Digest), copy.AsSpan(copy.Length - Digest));
        return copy;
    }

    /// <summary>The file with another header JSON (length field updated) and resealed.</summary>
    internal static byte[] WithHeader(byte[] file, string header, int blockBytesDelta = 0)
    {
        int oldLength = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(12));
        byte[] json = Encoding.UTF8.GetBytes(header);
        var blocks = file.AsSpan(Prefix + oldLength, file.Length - Prefix - oldLength - Digest);
        if (blockBytesDelta < 0) blocks = blocks[..Math.Max(0, blocks.Length + blockBytesDelta)];
        byte[] result = [.. file.AsSpan(0, 12), 0, 0, 0, 0, .. json, .. blocks, .. new byte[Math.Max(0, blockBytesDelta)], .. new byte[Digest]];
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(12), json.Length);
        return Reseal(result);
    }

    private static string HeaderOf(byte[] file) =>
        Encoding.UTF8.GetString(file.AsSpan(Prefix, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(12))));

    private static (byte[], string) Generate(Random random, byte[][] samples)
    {
        var file = samples[random.Next(samples.Length)];
        int roll = random.Next(100);
        var mutator = new Mutator(BigEndian: false, Markers: [(byte)'T', (byte)':']);
        if (roll < 4) return (Mutator.RandomBytes(random, random.Next(0, 120)), "random-bytes");
        if (roll < 6) return (file, "valid");
        if (roll < 18) return mutator.Mutate(random, samples);
        if (roll < 40)
        {
            var (mutated, kind) = mutator.Mutate(random, samples);
            return (Reseal(mutated), "resealed-" + kind);
        }
        if (roll < 50)
        {
            // The header length or a block count replaced by a huge or negative value.
            var copy = (byte[])file.Clone();
            BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(random.Next(2) == 0 ? 12 : 8), Mutator.HugeLengths[random.Next(Mutator.HugeLengths.Length)]);
            return (Reseal(copy), "resealed-length-field");
        }
        var (header, what) = JsonTextMutator.Mutate(random, HeaderOf(file));
        int delta = random.Next(3) == 0 ? random.Next(-64, 64) * 4 : 0;
        return (WithHeader(file, header, delta), "header-json-" + what + (delta != 0 ? "+blocks" : ""));
    }

    private static void Decode(byte[] bytes)
    {
        var checkpoint = Checkpoint.Parse(bytes, "fuzz.ckpt");
        Assert.Equal(checkpoint.Header.ParameterCount, checkpoint.Weights.Length);
        // Only small models are rebuilt: a mutated spec may legitimately ask for 200 M parameters.
        long parameters = 0;
        try { parameters = ModelSpec.Parse(checkpoint.Header.ModelSpecJson).CountParameters(); }
        catch (EngineException) { }
        if (parameters <= BuildLimit) checkpoint.BuildModel("fuzz.ckpt");
    }

    private static long Bound(byte[] input)
    {
        long parameters = 0;
        try { parameters = ModelSpec.Parse(Checkpoint.Parse(input, "b").Header.ModelSpecJson).CountParameters(); }
        catch (Exception) { } // whatever Parse throws, the decode has already reported it
        return 16L * input.Length + 16 * Math.Min(parameters, BuildLimit) + (2 << 20);
    }

    [Fact]
    public void Random_and_mutated_checkpoints_are_rejected_with_CheckpointException()
    {
        var samples = Samples();
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "Checkpoint.Parse + BuildModel",
            Seed = 2718,
            Cases = 12_000,
            Generate = random => Generate(random, samples),
            Decode = Decode,
            Expected = [typeof(CheckpointException)],
            Warmup = samples,
            AllocationBound = Bound,
        }, output);
    }

    [Fact]
    public void Mutated_checkpoint_files_are_rejected_by_Load_with_CheckpointException()
    {
        var samples = Samples();
        string path = Path.Combine(_dir, "fuzz.ckpt");
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "Checkpoint.Load (files)",
            Seed = 2719,
            Cases = 800,
            Generate = random => Generate(random, samples),
            Decode = bytes =>
            {
                File.WriteAllBytes(path, bytes);
                _ = Checkpoint.Load(path);
            },
            Expected = [typeof(CheckpointException)],
            AllocationBound = input => 16L * input.Length + (2 << 20),
        }, output);
    }

    [Theory]
    [InlineData(0x7FFF_FFFF)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void A_header_length_of_gigabytes_is_rejected_without_allocating(int length)
    {
        var file = Samples()[1];
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(12), length);
        file = Reseal(file);
        Assert.Throws<CheckpointException>(() => Checkpoint.Parse(file, "x")); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Parse(file, "x"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Equal($"x: invalid header length {length}", e.Message);
    }

    [Fact]
    public void Block_counts_larger_than_the_file_are_rejected_before_the_blocks_are_allocated()
    {
        var file = Samples()[1];
        string header = HeaderOf(file).Replace("\"parameters\":", "\"parameters\":4999999", StringComparison.Ordinal);
        var forged = WithHeader(file, header);
        Assert.Throws<CheckpointException>(() => Checkpoint.Parse(forged, "x"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Parse(forged, "x"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("the header announces", e.Message);
    }

    [Theory]
    [InlineData("model_spec")]
    [InlineData("architecture")]
    public void A_null_required_header_string_is_a_CheckpointException(string key)
    {
        // Was accepted, and BuildModel/Restore then failed with ArgumentNullException or NullReferenceException.
        var file = Samples()[1];
        string header = System.Text.RegularExpressions.Regex.Replace(HeaderOf(file), $"\"{key}\":\"(?:[^\"\\\\]|\\\\.)*\"", $"\"{key}\":null");
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Parse(WithHeader(file, header), "x"));
        Assert.Equal($"x: invalid header: '{key}' is null", e.Message);
    }

    [Fact]
    public void Null_optional_header_fields_default_to_empty()
    {
        var file = Samples()[1];
        string header = HeaderOf(file).Replace("\"settings\":{\"lr\":\"0.1\"}", "\"settings\":null", StringComparison.Ordinal);
        var checkpoint = Checkpoint.Parse(WithHeader(file, header), "x");
        Assert.Empty(checkpoint.Header.Settings);
    }

    [Fact]
    public void Blocks_that_do_not_match_the_architecture_are_a_CheckpointException_on_restore()
    {
        // The architecture text matches, but the file holds one parameter fewer (and says so consistently).
        var file = Samples()[1];
        var checkpoint = Checkpoint.Parse(file, "x");
        string header = HeaderOf(file).Replace($"\"parameters\":{checkpoint.Header.ParameterCount}",
            $"\"parameters\":{checkpoint.Header.ParameterCount - 1}", StringComparison.Ordinal);
        var forged = Checkpoint.Parse(WithHeader(file, header, blockBytesDelta: -4), "x");
        // Was an ArgumentException from Array.CopyTo (or, with fewer values, a silently partial restore).
        var e = Assert.Throws<CheckpointException>(() => forged.BuildModel("x"));
        Assert.Contains($"holds {checkpoint.Header.ParameterCount - 1:N0} parameters", e.Message);
    }
}
