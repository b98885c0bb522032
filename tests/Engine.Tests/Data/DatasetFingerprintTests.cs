using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Distributed.Engine.Data;
using Xunit;

namespace Distributed.Engine.Tests.Data;

public sealed class DatasetFingerprintTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Fingerprint_is_sha256_over_name_and_bytes_of_each_file_in_name_order()
    {
        var a = _dir.File("a.bin");
        var b = _dir.File("b.bin");
        File.WriteAllBytes(a, [1, 2, 3]);
        File.WriteAllBytes(b, []);

        var expected = new List<byte>();
        foreach (var (name, bytes) in new[] { ("a.bin", new byte[] { 1, 2, 3 }), ("b.bin", Array.Empty<byte>()) })
        {
            var n = Encoding.UTF8.GetBytes(name);
            var len = new byte[12];
            BinaryPrimitives.WriteInt32BigEndian(len, n.Length);
            BinaryPrimitives.WriteInt64BigEndian(len.AsSpan(4), bytes.Length);
            expected.AddRange(len[..4]);
            expected.AddRange(n);
            expected.AddRange(len[4..]);
            expected.AddRange(bytes);
        }

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData([.. expected])), DatasetFingerprint.Compute([b, a]));
    }

    [Fact]
    public void Fingerprint_ignores_the_folder_and_the_order_given()
    {
        var other = Path.Combine(_dir.Path, "copy");
        Directory.CreateDirectory(other);
        DataTestFiles.WriteFashionFolder(_dir.Path, 3, 2);
        DataTestFiles.WriteFashionFolder(other, 3, 2);
        var paths = FashionMnist.FilePaths(_dir.Path);

        var f1 = DatasetFingerprint.Compute(paths);
        var f2 = DatasetFingerprint.Compute(paths.Reverse());
        var f3 = DatasetFingerprint.Compute(FashionMnist.FilePaths(other));

        Assert.Equal(f1, f2);
        Assert.Equal(f1, f3);
    }

    [Fact]
    public void Fingerprint_changes_when_a_byte_or_a_name_changes()
    {
        var a = _dir.File("x");
        File.WriteAllBytes(a, [1, 2, 3]);
        var before = DatasetFingerprint.Compute([a]);

        File.WriteAllBytes(a, [1, 2, 4]);
        var changedByte = DatasetFingerprint.Compute([a]);
        var renamed = _dir.File("y");
        File.Move(a, renamed);
        File.WriteAllBytes(renamed, [1, 2, 3]);
        var changedName = DatasetFingerprint.Compute([renamed]);

        Assert.NotEqual(before, changedByte);
        Assert.NotEqual(before, changedName);
    }

    [Fact]
    public void Missing_file_is_a_data_format_error_naming_it()
    {
        var missing = _dir.File("gone.gz");

        var ex = Assert.Throws<DataFormatException>(() => DatasetFingerprint.Compute([missing]));

        Assert.Equal($"{missing}: file not found", ex.Message);
    }

    [Fact]
    public void Two_files_with_the_same_name_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => DatasetFingerprint.Compute(["/a/x.gz", "/b/x.gz"]));
    }
}
