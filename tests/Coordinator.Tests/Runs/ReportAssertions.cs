using System.Buffers.Binary;
using System.IO.Compression;

namespace Distributed.Coordinator.Tests.Runs;

/// <summary>Checks of a finished run's pictures and report.</summary>
internal static class ReportAssertions
{
    /// <summary>curves.png and confusion.png are valid PNG files of sensible size, and report.md references both.</summary>
    public static void HasPicturesAndReport(string run)
    {
        AssertPng(Path.Combine(run, "curves.png"), 800, 400);
        AssertPng(Path.Combine(run, "confusion.png"), 700, 700);
        string report = File.ReadAllText(Path.Combine(run, "report.md"));
        Assert.Contains("](curves.png)", report);
        Assert.Contains("](confusion.png)", report);
        Assert.Contains("## Epochs", report);
        Assert.Contains("Ankle boot", report);
        Assert.Matches(@"top-1 0\.\d{4}", report);
    }

    /// <summary>
    /// A PNG signature, an IHDR of at least the given size, chunks whose CRCs hold up to IEND, and image
    /// data that inflates to the bytes the header announces (each row: a filter byte plus its pixels).
    /// </summary>
    public static void AssertPng(string path, int minWidth, int minHeight)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 10_000, $"{path}: only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        int at = 8, width = 0, height = 0, bytesPerPixel = 0;
        var idat = new MemoryStream();
        string type;
        do
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at));
            type = System.Text.Encoding.ASCII.GetString(bytes, at + 4, 4);
            var data = bytes.AsSpan(at + 8, length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 8 + length));
            Assert.Equal(Crc32(bytes.AsSpan(at + 4, 4 + length)), crc);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]); // bit depth
                bytesPerPixel = data[9] switch { 6 => 4, 2 => 3, 0 => 1, 4 => 2, _ => throw new Xunit.Sdk.XunitException($"{path}: colour type {data[9]}") };
            }
            if (type == "IDAT") idat.Write(data);
            at += 12 + length;
        } while (type != "IEND");
        Assert.True(width >= minWidth && height >= minHeight, $"{path}: {width} × {height}");
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(inflated);
        Assert.Equal((long)height * (1 + width * bytesPerPixel), inflated.Length);
    }

    // The PNG (zlib) CRC-32: polynomial 0xEDB88320, reflected, initial and final value 0xFFFFFFFF.
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
