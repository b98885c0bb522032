using System.Buffers.Binary;
using System.IO.Compression;
using Distributed.Engine.Data;
using Distributed.Tests.Fuzzing;
using Xunit.Abstractions;

namespace Distributed.Engine.Tests.Data;

/// <summary>
/// Hostile IDX files, raw and gzip: mutated real files (written by <see cref="IdxReader.WriteFile"/>),
/// dimensions overwritten with huge values, recompressed mutations, corrupt gzip streams and random
/// bytes, read in memory, from files and as a whole Fashion-MNIST folder. Every failure is a
/// DataFormatException and nothing is allocated beyond what the bytes actually hold.
/// </summary>
public sealed class IdxReaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    // IDX lengths are the big-endian dimensions after the 4-byte magic; 0x08 is the element type before them.
    private static readonly Mutator IdxMutator = new(BigEndian: true, Markers: [0x01, 0x02, 0x03, 0x04]);

    private byte[] Written(int[] dims, bool gzip, int seed)
    {
        string path = _folder.File($"sample-{string.Join("x", dims)}-{gzip}-{seed}.idx");
        int size = dims.Aggregate(1, (a, d) => a * d);
        IdxReader.WriteFile(path, dims, DataTestFiles.Bytes(size, seed), gzip);
        return File.ReadAllBytes(path);
    }

    private (byte[][] Raw, byte[][] Gzip) Samples()
    {
        int[][] shapes = [[3, 28, 28], [12], [2, 5, 4], [1, 1, 2, 3], [40, 9], [200]];
        return ([.. shapes.Select((d, i) => Written(d, false, i))], [.. shapes.Select((d, i) => Written(d, true, i))]);
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var memory = new MemoryStream();
        using (var z = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true)) z.Write(raw);
        return memory.ToArray();
    }

    private static (byte[], string) Generate(Random random, byte[][] raw, byte[][] gzip)
    {
        int roll = random.Next(100);
        if (roll < 4) return (Mutator.RandomBytes(random, random.Next(0, 64)), "random-bytes");
        if (roll < 6) return ([0x1F, 0x8B, .. Mutator.RandomBytes(random, random.Next(0, 64))], "random-gzip");
        if (roll < 20)
        {
            // A dimension overwritten with a huge or negative value, in a raw or recompressed file.
            var bytes = (byte[])raw[random.Next(raw.Length)].Clone();
            int dims = bytes[3];
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * random.Next(dims)), Mutator.HugeLengths[random.Next(Mutator.HugeLengths.Length)]);
            return random.Next(2) == 0 ? (bytes, "dimension-overwrite") : (Gzip(bytes), "gzip(dimension-overwrite)");
        }
        if (roll < 40)
        {
            var (mutated, kind) = IdxMutator.Mutate(random, raw);
            return (Gzip(mutated), $"gzip({kind})");
        }
        if (roll < 55)
        {
            var (mutated, kind) = IdxMutator.Mutate(random, gzip);
            return (mutated, $"gzip-bytes-{kind}");
        }
        return IdxMutator.Mutate(random, raw);
    }

    /// <summary>16 × the larger of the input and what it really decompresses to, plus 1 MiB.</summary>
    private static long Bound(byte[] input)
    {
        long content = input.Length;
        if (input.Length >= 2 && input[0] == 0x1F && input[1] == 0x8B)
        {
            try
            {
                using var z = new GZipStream(new MemoryStream(input), CompressionMode.Decompress);
                var scratch = new byte[1 << 16];
                long total = 0;
                int n;
                while ((n = z.Read(scratch)) > 0 && total < IdxReader.MaxDataBytes) total += n;
                content = Math.Max(content, total);
            }
            catch (InvalidDataException) { }
        }
        return 16 * content + (1 << 20);
    }

    [Fact]
    public void Random_and_mutated_IDX_bytes_are_rejected_with_DataFormatException()
    {
        var (raw, gzip) = Samples();
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "IdxReader.Parse (raw and gzip IDX in memory)",
            Seed = 1234,
            Cases = 14_000,
            Generate = random => Generate(random, raw, gzip),
            Decode = bytes =>
            {
                var file = IdxReader.Parse(bytes, "fuzz.idx");
                Assert.Equal(file.Dimensions.Aggregate(1L, (a, d) => a * d), file.Data.Length);
            },
            Expected = [typeof(DataFormatException)],
            Warmup = [.. raw, .. gzip],
            AllocationBound = Bound,
        }, output);
    }

    [Fact]
    public void Mutated_IDX_files_and_Fashion_MNIST_folders_are_rejected_with_DataFormatException()
    {
        var (raw, gzip) = Samples();
        string images = _folder.File("fuzz-images"), labels = _folder.File("fuzz-labels");
        string mnist = Path.Combine(_folder.Path, "mnist");
        Directory.CreateDirectory(mnist);
        DataTestFiles.WriteFashionFolder(mnist, trainCount: 6, testCount: 4, gzip: true);
        var mnistFiles = FashionMnist.FilePaths(mnist).Select(p => (Path: p, Bytes: File.ReadAllBytes(p))).ToArray();
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "IdxReader.ReadImages/ReadLabels files and FashionMnist.Load",
            Seed = 4321,
            Cases = 1_500,
            // Byte 0: 0 reads the rest as an image and a label file; 1 + k puts it in a Fashion-MNIST folder as file k.
            Generate = random =>
            {
                if (random.Next(4) > 0)
                {
                    var (bytes, kind) = Generate(random, raw, gzip);
                    return ([0, .. bytes], kind);
                }
                int k = random.Next(mnistFiles.Length);
                var (mutated, mutation) = IdxMutator.Mutate(random, [mnistFiles[k].Bytes]);
                return ([(byte)(1 + k), .. mutated], "fashion-mnist-" + mutation);
            },
            Decode = input =>
            {
                byte[] bytes = input[1..];
                if (input[0] > 0)
                {
                    // One of the four files replaced by a mutation; the others stay valid.
                    foreach (var (path, original) in mnistFiles) File.WriteAllBytes(path, original);
                    File.WriteAllBytes(mnistFiles[input[0] - 1].Path, bytes);
                    FashionMnist.Load(mnist);
                    return;
                }
                File.WriteAllBytes(images, bytes);
                File.Copy(images, labels, overwrite: true);
                Exception? asImages = Record(() => IdxReader.ReadImages(images));
                Exception? asLabels = Record(() => IdxReader.ReadLabels(labels));
                if (asImages is not null && asLabels is not null) throw asImages.GetType() != typeof(DataFormatException) ? asImages : asLabels;
            },
            Expected = [typeof(DataFormatException)],
            // Whole folders: four files, images as floats (4 bytes a pixel), the fingerprint's reads and file I/O buffers.
            AllocationBound = input => 64L * Bound(input[1..]) + (4 << 20),
        }, output);
    }

    private static Exception? Record(Action action)
    {
        try { action(); return null; }
        catch (Exception e) { return e; }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_20_byte_file_declaring_1GiB_is_truncated_without_allocating_the_gigabyte(bool gzip)
    {
        // 1024 × 1024 × 1024 is exactly MaxDataBytes, so the header alone passes every bound check.
        byte[] header = [0, 0, IdxReader.UnsignedByte, 3, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 1, 2, 3, 4];
        byte[] bytes = gzip ? Gzip(header) : header;
        string path = _folder.File($"liar-{gzip}.idx");
        File.WriteAllBytes(path, bytes);
        Assert.Throws<DataFormatException>(() => IdxReader.Parse(bytes, "liar")); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal($"{path}: truncated: expected 1073741824 image bytes after the header, found 4", e.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes for a {bytes.Length}-byte file");
    }

    [Fact]
    public void A_gzip_file_is_read_whole_when_it_is_larger_than_the_first_buffer()
    {
        var data = DataTestFiles.Bytes(300 * 28 * 28, 5); // 235 KB: the buffer doubles twice
        string path = _folder.File("big.idx.gz");
        IdxReader.WriteFile(path, [300, 28, 28], data, gzip: true);
        var (pixels, count, _, _) = IdxReader.ReadImages(path);
        Assert.Equal(300, count);
        Assert.Equal(data, pixels);
    }
}
