using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Distributed.Engine.Data;

/// <summary>
/// A SHA-256 fingerprint of a set of data files, used to record exactly which data a run trained on.
/// </summary>
/// <remarks>
/// Files are hashed in ordinal order of their file names (so the caller's order does not matter and
/// the folder they sit in is not part of the fingerprint). For each file the hash takes, in order:
/// the UTF-8 byte length of the file name (int32, big-endian), the UTF-8 file name, the file length
/// in bytes (int64, big-endian), then the file bytes as stored (compressed files are hashed compressed).
/// Files are streamed through the hash in 1 MiB blocks, never loaded whole.
/// </remarks>
public static class DatasetFingerprint
{
    private const int BlockBytes = 1 << 20;

    /// <summary>Computes the fingerprint of the given files.</summary>
    /// <param name="paths">The files to hash; their file names must be distinct.</param>
    /// <returns>The SHA-256 digest as 64 lowercase hex digits.</returns>
    /// <exception cref="DataFormatException">A file is missing or cannot be read, or changed length while being read.</exception>
    /// <exception cref="ArgumentException">Two paths have the same file name.</exception>
    public static string Compute(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var ordered = paths.Select(p => (Path: p, Name: Path.GetFileName(p)))
                           .OrderBy(x => x.Name, StringComparer.Ordinal)
                           .ToList();
        for (int i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Name == ordered[i - 1].Name)
            {
                throw new ArgumentException($"two files named {ordered[i].Name}: {ordered[i - 1].Path} and {ordered[i].Path}", nameof(paths));
            }
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BlockBytes);
        try
        {
            Span<byte> prefix = stackalloc byte[8];
            foreach (var (path, name) in ordered)
            {
                var nameBytes = Encoding.UTF8.GetBytes(name);
                BinaryPrimitives.WriteInt32BigEndian(prefix, nameBytes.Length);
                hash.AppendData(prefix[..4]);
                hash.AppendData(nameBytes);
                HashFile(hash, path, buffer, prefix);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void HashFile(IncrementalHash hash, string path, byte[] buffer, Span<byte> prefix)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            long length = file.Length;
            BinaryPrimitives.WriteInt64BigEndian(prefix, length);
            hash.AppendData(prefix[..8]);
            long total = 0;
            int n;
            while ((n = file.Read(buffer, 0, BlockBytes)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
            }
            if (total != length)
            {
                throw new DataFormatException($"{path}: changed while being fingerprinted: expected {length} bytes, read {total}");
            }
        }
        catch (FileNotFoundException)
        {
            throw new DataFormatException($"{path}: file not found");
        }
        catch (DirectoryNotFoundException)
        {
            throw new DataFormatException($"{path}: file not found (its folder does not exist)");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException($"{path}: cannot be read: {ex.Message.ReplaceLineEndings(" ").Trim()}", ex);
        }
    }
}
