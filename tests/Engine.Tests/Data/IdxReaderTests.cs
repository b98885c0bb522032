using System.IO.Compression;
using Distributed.Engine.Data;
using Xunit;

namespace Distributed.Engine.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Written_file_reads_back_with_the_same_dims_and_bytes(bool gzip)
    {
        var path = _dir.File("images.idx");
        var data = DataTestFiles.Bytes(3 * 4 * 5);

        IdxReader.WriteFile(path, [3, 4, 5], data, gzip);
        var file = IdxReader.ReadFile(path);

        Assert.Equal([3, 4, 5], file.Dimensions);
        Assert.Equal(IdxReader.UnsignedByte, file.ElementType);
        Assert.Equal(data, file.Data);
        Assert.Equal(path, file.Path);
        var start = File.ReadAllBytes(path).AsSpan(0, 2).ToArray();
        Assert.Equal(gzip, start[0] == 0x1F && start[1] == 0x8B);
    }

    [Fact]
    public void Compression_is_detected_from_the_content_not_the_file_name()
    {
        var gzipNamedPlain = _dir.File("plain.gz");
        var plainNamedGzip = _dir.File("compressed.idx");
        IdxReader.WriteFile(gzipNamedPlain, [4], [1, 2, 3, 4], gzip: false);
        IdxReader.WriteFile(plainNamedGzip, [4], [5, 6, 7, 8], gzip: true);

        Assert.Equal([1, 2, 3, 4], IdxReader.ReadLabels(gzipNamedPlain));
        Assert.Equal([5, 6, 7, 8], IdxReader.ReadLabels(plainNamedGzip));
    }

    [Fact]
    public void ReadImages_returns_count_rows_cols_and_pixels()
    {
        var path = _dir.File("img.gz");
        var data = DataTestFiles.Bytes(2 * 3 * 4);
        IdxReader.WriteFile(path, [2, 3, 4], data, gzip: true);

        var (pixels, count, rows, cols) = IdxReader.ReadImages(path);

        Assert.Equal((2, 3, 4), (count, rows, cols));
        Assert.Equal(data, pixels);
    }

    [Fact]
    public void Truncated_image_file_is_rejected_with_the_file_name_and_both_sizes()
    {
        var path = _dir.File("train-images-idx3-ubyte");
        File.WriteAllBytes(path, [.. DataTestFiles.Header(0x08, 2, 28, 28), .. new byte[1200]]);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));

        Assert.Equal($"{path}: truncated: expected 1568 image bytes after the header, found 1200", ex.Message);
    }

    [Fact]
    public void Truncated_gzip_file_is_rejected_with_the_file_name()
    {
        var path = _dir.File("train-images-idx3-ubyte.gz");
        IdxReader.WriteFile(path, [10, 28, 28], DataTestFiles.Bytes(7840), gzip: true);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));

        Assert.StartsWith(path + ": ", ex.Message);
        Assert.True(ex.Message.Contains("truncated") || ex.Message.Contains("gzip"), ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(7)]
    public void Truncated_header_is_rejected(int length)
    {
        var path = _dir.File("short");
        File.WriteAllBytes(path, DataTestFiles.Header(0x08, 5, 5)[..length]);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadFile(path));

        Assert.StartsWith(path + ": truncated: expected", ex.Message);
    }

    [Fact]
    public void Wrong_magic_number_is_rejected_with_the_file_name()
    {
        var path = _dir.File("notidx");
        File.WriteAllBytes(path, [0x50, 0x4B, 0x08, 0x01, 0, 0, 0, 1, 42]);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadFile(path));

        Assert.Equal($"{path}: not an IDX file: magic number starts 50 4B, expected 00 00", ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(255)]
    public void Dimension_count_outside_1_to_4_is_rejected(int rank)
    {
        var path = _dir.File("rank");
        File.WriteAllBytes(path, [0, 0, 0x08, (byte)rank, 0, 0, 0, 1, 7]);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadFile(path));

        Assert.StartsWith(path + ":", ex.Message);
        Assert.Contains($"declares {rank} dimension(s), expected 1 to 4", ex.Message);
    }

    [Theory]
    [InlineData(0x0D, "float32")]
    [InlineData(0x0C, "int32")]
    [InlineData(0x42, "unknown type")]
    public void Element_types_other_than_unsigned_byte_are_rejected_clearly(byte type, string name)
    {
        var path = _dir.File("float.idx");
        File.WriteAllBytes(path, [.. DataTestFiles.Header(type, 1), 0, 0, 0, 0]);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadFile(path));

        Assert.Equal($"{path}: unsupported IDX element type 0x{type:X2} ({name}); only 0x08 (unsigned byte) is supported", ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Non_positive_dimension_is_rejected(int dim)
    {
        var path = _dir.File("zero");
        File.WriteAllBytes(path, [.. DataTestFiles.Header(0x08, 3, dim), 1, 2, 3]);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadFile(path));

        Assert.Equal($"{path}: invalid IDX header: dimension 1 is {dim}, every dimension must be positive", ex.Message);
    }

    [Fact]
    public void Header_declaring_more_than_1_GiB_is_rejected_before_allocating()
    {
        var path = _dir.File("huge");
        File.WriteAllBytes(path, [.. DataTestFiles.Header(0x08, 65536, 65536, 65536, 65536), 1, 2, 3]);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadFile(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.StartsWith(path + ": invalid IDX header: dimensions (65536, 65536, 65536, 65536) describe more than", ex.Message);
        Assert.Contains("1 GiB", ex.Message);
        Assert.True(allocated < 10_000_000, $"allocated {allocated} bytes");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trailing_bytes_after_the_data_are_rejected(bool gzip)
    {
        var path = _dir.File("labels");
        byte[] content = [.. DataTestFiles.Header(0x08, 4), 1, 2, 3, 4, 9, 9, 9];
        WriteMaybeGzip(path, content, gzip);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path));

        Assert.Equal($"{path}: 3 unexpected trailing byte(s) after the 4 label bytes declared by the header (4)", ex.Message);
    }

    [Fact]
    public void Corrupt_gzip_stream_becomes_a_data_format_error_naming_the_file()
    {
        var path = _dir.File("t10k-images-idx3-ubyte.gz");
        IdxReader.WriteFile(path, [20, 28, 28], DataTestFiles.Bytes(20 * 784), gzip: true);
        var bytes = File.ReadAllBytes(path);
        for (int i = 10; i < bytes.Length - 8; i++) bytes[i] = 0xFF; // garbage deflate data after the gzip header
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));

        Assert.StartsWith(path + ": ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Gzip_with_a_bad_checksum_is_rejected()
    {
        var path = _dir.File("crc.gz");
        IdxReader.WriteFile(path, [100], DataTestFiles.Bytes(100), gzip: true);
        var bytes = File.ReadAllBytes(path);
        bytes[^8] ^= 0xFF; // CRC-32 in the gzip trailer
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path));

        Assert.StartsWith(path + ": corrupt gzip stream: ", ex.Message);
    }

    [Fact]
    public void Missing_file_is_a_data_format_error_naming_the_file()
    {
        var path = _dir.File("nope.gz");

        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadFile(path));

        Assert.Equal($"{path}: file not found", ex.Message);
    }

    [Fact]
    public void ReadImages_rejects_a_label_file_and_ReadLabels_an_image_file()
    {
        var labels = _dir.File("labels");
        var images = _dir.File("images");
        IdxReader.WriteFile(labels, [3], [1, 2, 3], gzip: false);
        IdxReader.WriteFile(images, [1, 2, 2], [1, 2, 3, 4], gzip: false);

        var e1 = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(labels));
        var e2 = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(images));

        Assert.Equal($"{labels}: expected a 3-dimensional image file (count, rows, cols), found 1 dimension(s) (3)", e1.Message);
        Assert.Equal($"{images}: expected a 1-dimensional label file (count), found 3 dimension(s) (1, 2, 2)", e2.Message);
    }

    [Fact]
    public void WriteFile_rejects_dims_that_do_not_match_the_data()
    {
        var path = _dir.File("bad");

        Assert.Throws<ArgumentException>(() => IdxReader.WriteFile(path, [2, 2], new byte[5], gzip: false));
        Assert.Throws<ArgumentException>(() => IdxReader.WriteFile(path, [], new byte[0], gzip: false));
        Assert.Throws<ArgumentException>(() => IdxReader.WriteFile(path, [1, 1, 1, 1, 1], new byte[1], gzip: false));
        Assert.Throws<ArgumentException>(() => IdxReader.WriteFile(path, [0], new byte[0], gzip: false));
    }

    private static void WriteMaybeGzip(string path, byte[] content, bool gzip)
    {
        if (!gzip)
        {
            File.WriteAllBytes(path, content);
            return;
        }
        using var file = File.Create(path);
        using var z = new GZipStream(file, CompressionLevel.Optimal);
        z.Write(content);
    }
}
