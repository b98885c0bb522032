using System.Buffers.Binary;
using System.IO.Compression;

namespace Distributed.Engine.Data;

/// <summary>
/// The contents of one IDX file: its dimensions (outermost first, e.g. <c>(count, rows, cols)</c>
/// for images), its element type code and its raw data bytes in file order (row-major).
/// </summary>
/// <param name="Path">The file the contents were read from (as given to the reader).</param>
/// <param name="Dimensions">The dimensions, outermost first; 1 to 4 positive values.</param>
/// <param name="ElementType">The IDX element type code; always <see cref="IdxReader.UnsignedByte"/> (0x08) for files this reader accepts.</param>
/// <param name="Data">The data bytes, exactly the product of <paramref name="Dimensions"/> long.</param>
public sealed record IdxFile(string Path, int[] Dimensions, byte ElementType, byte[] Data)
{
    /// <summary>Number of dimensions (1 to 4).</summary>
    public int Rank => Dimensions.Length;
}

/// <summary>
/// Reads and writes IDX files (the format of MNIST and Fashion-MNIST), raw or gzip-compressed.
/// Compression is detected from the gzip magic bytes <c>1F 8B</c>, not from the file name.
/// Every problem with a file is reported as a one-line <see cref="DataFormatException"/> whose
/// message starts with the file path.
/// </summary>
/// <remarks>
/// Layout: a 4-byte magic number (two zero bytes, the element type code, the number of
/// dimensions), then one big-endian int32 per dimension, then the data, row-major. Only the
/// unsigned-byte element type (0x08) is supported.
/// </remarks>
public static class IdxReader
{
    /// <summary>The IDX element type code for unsigned bytes (0x08), the only type supported.</summary>
    public const byte UnsignedByte = 0x08;

    /// <summary>The largest data section accepted, in bytes (1 GiB); larger headers are rejected before allocating.</summary>
    public const long MaxDataBytes = 1L << 30;

    /// <summary>The largest number of dimensions an IDX file may declare.</summary>
    public const int MaxRank = 4;

    private const int HeaderMagicBytes = 4;
    private const int BufferBytes = 1 << 16;
    private const int GrowingStartBytes = 1 << 16;

    /// <summary>
    /// Reads an IDX file, gzip-compressed or raw, and validates its header and exact length.
    /// </summary>
    /// <param name="path">The file to read.</param>
    /// <returns>The dimensions, element type and data bytes.</returns>
    /// <exception cref="DataFormatException">The file is missing, unreadable, corrupt, truncated, has trailing bytes, or uses an unsupported element type.</exception>
    public static IdxFile ReadFile(string path) => ReadFile(path, "data");

    /// <summary>
    /// Reads a 3-D unsigned-byte IDX image file <c>(count, rows, cols)</c>.
    /// </summary>
    /// <param name="path">The file to read.</param>
    /// <returns>The pixels (count × rows × cols bytes, row-major per image) and the three dimensions.</returns>
    /// <exception cref="DataFormatException">The file is not a valid 3-D IDX file.</exception>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadImages(string path)
    {
        var file = ReadFile(path, "image");
        if (file.Rank != 3)
        {
            throw Error(path, $"expected a 3-dimensional image file (count, rows, cols), found {file.Rank} dimension(s) ({string.Join(", ", file.Dimensions)})");
        }
        return (file.Data, file.Dimensions[0], file.Dimensions[1], file.Dimensions[2]);
    }

    /// <summary>Reads a 1-D unsigned-byte IDX label file <c>(count)</c>.</summary>
    /// <param name="path">The file to read.</param>
    /// <returns>The labels, one byte per sample.</returns>
    /// <exception cref="DataFormatException">The file is not a valid 1-D IDX file.</exception>
    public static byte[] ReadLabels(string path)
    {
        var file = ReadFile(path, "label");
        if (file.Rank != 1)
        {
            throw Error(path, $"expected a 1-dimensional label file (count), found {file.Rank} dimension(s) ({string.Join(", ", file.Dimensions)})");
        }
        return file.Data;
    }

    /// <summary>
    /// Writes an unsigned-byte IDX file, optionally gzip-compressed at <see cref="CompressionLevel.Optimal"/>.
    /// An existing file is replaced.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="dims">The dimensions, outermost first; 1 to 4 positive values whose product is <c>data.Length</c>.</param>
    /// <param name="data">The data bytes, row-major.</param>
    /// <param name="gzip">True to gzip the whole file (header included), as the published Fashion-MNIST files are.</param>
    /// <exception cref="ArgumentException">The dimensions are invalid or do not match the data length.</exception>
    public static void WriteFile(string path, ReadOnlySpan<int> dims, ReadOnlySpan<byte> data, bool gzip)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (dims.Length < 1 || dims.Length > MaxRank)
        {
            throw new ArgumentException($"an IDX file has 1 to {MaxRank} dimensions, got {dims.Length}", nameof(dims));
        }
        long total = 1;
        foreach (var d in dims)
        {
            if (d <= 0) throw new ArgumentException($"every IDX dimension must be positive, got ({string.Join(", ", dims.ToArray())})", nameof(dims));
            total *= d;
            if (total > MaxDataBytes) throw new ArgumentException($"IDX data larger than {MaxDataBytes} bytes is not supported", nameof(dims));
        }
        if (total != data.Length)
        {
            throw new ArgumentException($"dimensions ({string.Join(", ", dims.ToArray())}) describe {total} bytes but {data.Length} were given", nameof(data));
        }

        var header = new byte[HeaderMagicBytes + 4 * dims.Length];
        header[2] = UnsignedByte;
        header[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(HeaderMagicBytes + 4 * i), dims[i]);
        }

        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, BufferBytes);
        if (gzip)
        {
            using var z = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true);
            z.Write(header);
            z.Write(data);
        }
        else
        {
            file.Write(header);
            file.Write(data);
        }
    }

    /// <summary>
    /// Reads IDX contents already in memory (raw or gzip-compressed), with the same checks as
    /// <see cref="ReadFile(string)"/>; <paramref name="source"/> names them in messages.
    /// </summary>
    /// <param name="bytes">The file's bytes.</param>
    /// <param name="source">What the bytes are, e.g. the path they came from.</param>
    /// <returns>The dimensions, element type and data bytes.</returns>
    /// <exception cref="DataFormatException">The bytes are corrupt, truncated, have trailing bytes, or use an unsupported element type.</exception>
    public static IdxFile Parse(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentException.ThrowIfNullOrEmpty(source);
        using var memory = new MemoryStream(bytes, writable: false);
        return Read(memory, source, "data");
    }

    /// <summary>Reads and validates an IDX file; <paramref name="kind"/> ("image", "label", "data") is used in messages.</summary>
    internal static IdxFile ReadFile(string path, string kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferBytes);
            return Read(file, path, kind);
        }
        catch (FileNotFoundException)
        {
            throw Error(path, "file not found");
        }
        catch (DirectoryNotFoundException)
        {
            throw Error(path, "file not found (its folder does not exist)");
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new DataFormatException($"{path}: cannot be read: {OneLine(ex.Message)}", ex);
        }
        catch (IOException ex)
        {
            throw new DataFormatException($"{path}: cannot be read: {OneLine(ex.Message)}", ex);
        }
    }

    /// <summary>Reads a seekable stream holding a whole IDX file, raw or gzip-compressed.</summary>
    private static IdxFile Read(Stream file, string path, string kind)
    {
        try
        {
            bool gzip = IsGzip(file);
            file.Position = 0;
            if (!gzip) return ReadContents(path, kind, file, gzip: false);
            using var z = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
            return ReadContents(path, kind, z, gzip: true);
        }
        catch (InvalidDataException ex)
        {
            throw new DataFormatException($"{path}: corrupt gzip stream: {OneLine(ex.Message)}", ex);
        }
    }

    private static bool IsGzip(Stream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int n = ReadFully(file, magic);
        return n == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }

    private static IdxFile ReadContents(string path, string kind, Stream stream, bool gzip)
    {
        string source = gzip ? " (after gunzip)" : "";

        Span<byte> magic = stackalloc byte[HeaderMagicBytes];
        int got = ReadFully(stream, magic);
        if (got < HeaderMagicBytes)
        {
            throw Error(path, $"truncated: expected a {HeaderMagicBytes}-byte IDX magic number, found {got} byte(s){source}");
        }
        if (magic[0] != 0 || magic[1] != 0)
        {
            throw Error(path, $"not an IDX file: magic number starts {magic[0]:X2} {magic[1]:X2}, expected 00 00{source}");
        }
        byte type = magic[2];
        int rank = magic[3];
        if (rank < 1 || rank > MaxRank)
        {
            throw Error(path, $"not a supported IDX file: header declares {rank} dimension(s), expected 1 to {MaxRank}");
        }
        if (type != UnsignedByte)
        {
            throw Error(path, $"unsupported IDX element type 0x{type:X2} ({TypeName(type)}); only 0x08 (unsigned byte) is supported");
        }

        Span<byte> dimBytes = stackalloc byte[4 * MaxRank];
        dimBytes = dimBytes[..(4 * rank)];
        got = ReadFully(stream, dimBytes);
        if (got < dimBytes.Length)
        {
            throw Error(path, $"truncated: expected {dimBytes.Length} bytes of dimensions after the magic number, found {got}");
        }

        var dims = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes[(4 * i)..]);
            if (dims[i] <= 0)
            {
                throw Error(path, $"invalid IDX header: dimension {i} is {dims[i]}, every dimension must be positive");
            }
        }
        foreach (var d in dims)
        {
            total *= d;
            if (total > MaxDataBytes)
            {
                throw Error(path, $"invalid IDX header: dimensions ({string.Join(", ", dims)}) describe more than {MaxDataBytes} bytes (1 GiB), the largest supported");
            }
        }

        var data = gzip ? ReadGrowing(stream, total, path, kind) : ReadExact(stream, total, path, kind);

        long trailing = CountRemaining(stream);
        if (trailing > 0)
        {
            string amount = trailing >= MaxDataBytes ? $"at least {trailing}" : trailing.ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw Error(path, $"{amount} unexpected trailing byte(s) after the {data.Length} {kind} bytes declared by the header ({string.Join(", ", dims)})");
        }

        return new IdxFile(path, dims, type, data);
    }

    // A raw file's size is known: a header that declares more than the file holds is refused before
    // the data array is allocated, so a 20-byte file cannot make the reader allocate a gigabyte.
    private static byte[] ReadExact(Stream stream, long total, string path, string kind)
    {
        long available = stream.Length - stream.Position;
        if (total > available)
        {
            throw Error(path, $"truncated: expected {total} {kind} bytes after the header, found {available}");
        }
        var data = new byte[total];
        int got = ReadFully(stream, data);
        if (got < data.Length)
        {
            throw Error(path, $"truncated: expected {data.Length} {kind} bytes after the header, found {got}");
        }
        return data;
    }

    // A gzip stream's decompressed size is unknown until it ends (the trailer's size field is mod 2^32
    // and written by whoever made the file), so the array grows with the bytes that actually arrive:
    // at most twice the data read, never the declared size of a truncated or lying file.
    private static byte[] ReadGrowing(Stream stream, long total, string path, string kind)
    {
        var data = new byte[Math.Min(total, GrowingStartBytes)];
        long got = 0;
        while (true)
        {
            got += ReadFully(stream, data.AsSpan((int)got));
            if (got < data.Length)
            {
                throw Error(path, $"truncated: expected {total} {kind} bytes after the header, found {got}");
            }
            if (got == total) return data;
            Array.Resize(ref data, (int)Math.Min(total, 2L * data.Length));
        }
    }

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>Counts the bytes left in the stream, stopping once <see cref="MaxDataBytes"/> have been seen.</summary>
    private static long CountRemaining(Stream stream)
    {
        Span<byte> scratch = stackalloc byte[4096];
        long count = 0;
        int n;
        while (count < MaxDataBytes && (n = stream.Read(scratch)) > 0)
        {
            count += n;
        }
        return count;
    }

    private static string TypeName(byte type) => type switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "unknown type",
    };

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    private static DataFormatException Error(string path, string what) => new($"{path}: {what}");
}
