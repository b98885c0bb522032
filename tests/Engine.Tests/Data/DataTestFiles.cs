using Distributed.Engine.Data;

namespace Distributed.Engine.Tests.Data;

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "engine-data-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Builders for small synthetic IDX files and Fashion-MNIST-shaped folders.</summary>
internal static class DataTestFiles
{
    /// <summary>The committed slice, as copied to the test output folder by the test project.</summary>
    public static string SliceDirectory => Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-slice");

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] Bytes(int count, int seed = 1)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A raw IDX header: magic (00 00 type rank) then big-endian dims.</summary>
    public static byte[] Header(byte type, params int[] dims)
    {
        var header = new byte[4 + 4 * dims.Length];
        header[2] = type;
        header[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        }
        return header;
    }

    /// <summary>Writes the four Fashion-MNIST files (28×28 images, labels i % 10) into <paramref name="dir"/>.</summary>
    public static void WriteFashionFolder(string dir, int trainCount, int testCount, bool gzip = true, int? trainLabelCount = null)
    {
        string suffix = gzip ? FashionMnist.GzipSuffix : "";
        WriteSplit(dir, FashionMnist.TrainImagesFile + suffix, FashionMnist.TrainLabelsFile + suffix, trainCount, trainLabelCount ?? trainCount, gzip, seed: 1);
        WriteSplit(dir, FashionMnist.TestImagesFile + suffix, FashionMnist.TestLabelsFile + suffix, testCount, testCount, gzip, seed: 2);
    }

    private static void WriteSplit(string dir, string images, string labels, int imageCount, int labelCount, bool gzip, int seed)
    {
        IdxReader.WriteFile(Path.Combine(dir, images), [imageCount, 28, 28], Bytes(imageCount * 784, seed), gzip);
        var l = new byte[labelCount];
        for (int i = 0; i < labelCount; i++) l[i] = (byte)(i % 10);
        IdxReader.WriteFile(Path.Combine(dir, labels), [labelCount], l, gzip);
    }
}
