using System.Buffers.Binary;

namespace Distributed.Tests.Fuzzing;

/// <summary>
/// Byte-level mutations of valid encodings: bit flips, byte replacements, truncations, insertions,
/// duplicated and deleted spans, splices from another sample, and length-prefix overwrites with huge
/// or negative values (at random offsets, and right after the target's length markers).
/// </summary>
/// <param name="BigEndian">Byte order of the target's length fields.</param>
/// <param name="Markers">Bytes after which the target's format holds a 4-byte length (e.g. MessagePack bin32 0xC6); may be empty.</param>
internal sealed record Mutator(bool BigEndian, byte[] Markers)
{
    /// <summary>Lengths that break naive readers: 2 GB, 4 GB, just under int.MaxValue, sign bit, -1, 1 GB, 256 MB.</summary>
    public static readonly uint[] HugeLengths =
        [0x7FFFFFFF, 0xFFFFFFFF, 0x7FFFFFF0, 0x7FFFFFC7, 0x80000000, 0xFFFFFFFE, 0x40000000, 0x10000000, 0x00FFFFFF, 0x0001_0000];

    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0xC0, 0xC1, 0xC6, 0xDB, 0xDD, 0xDF, 0x1F, 0x8B];

    /// <summary>The names of the mutation kinds, as <see cref="Mutate"/> reports them.</summary>
    public static readonly string[] Kinds =
        ["bit-flip", "byte-replace", "truncate", "insert", "duplicate-span", "delete-span", "splice", "length-overwrite", "marker-length", "zero-span", "multi"];

    /// <summary>One mutation of one sample, chosen by <paramref name="random"/>; returns the bytes and the kind.</summary>
    public (byte[] Bytes, string Kind) Mutate(Random random, IReadOnlyList<byte[]> samples)
    {
        var source = samples[random.Next(samples.Count)];
        int kind = random.Next(Kinds.Length);
        if (kind == Kinds.Length - 1)
        {
            var bytes = source;
            int rounds = random.Next(2, 6);
            for (int i = 0; i < rounds; i++) bytes = Apply(random.Next(Kinds.Length - 1), random, bytes, samples);
            return (bytes, "multi");
        }
        return (Apply(kind, random, source, samples), Kinds[kind]);
    }

    // Works on copies of arrays (not lists) so that 100 KB samples mutate at memcpy speed.
    private byte[] Apply(int kind, Random random, byte[] input, IReadOnlyList<byte[]> samples)
    {
        int n = input.Length;
        if (n == 0 && kind is not (2 or 3 or 6)) return [(byte)random.Next(256)];
        switch (kind)
        {
            case 0:
            {
                var b = (byte[])input.Clone();
                b[random.Next(n)] ^= (byte)(1 << random.Next(8));
                return b;
            }
            case 1:
            {
                var b = (byte[])input.Clone();
                b[random.Next(n)] = random.Next(2) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
                return b;
            }
            case 2:
                return input[..random.Next(n + 1)];
            case 3:
            {
                int at = random.Next(n + 1);
                return [.. input.AsSpan(0, at), .. RandomBytes(random, random.Next(1, 17)), .. input.AsSpan(at)];
            }
            case 4:
            {
                int start = random.Next(n), length = random.Next(1, Math.Min(64, n - start) + 1), at = random.Next(n + 1);
                return [.. input.AsSpan(0, at), .. input.AsSpan(start, length), .. input.AsSpan(at)];
            }
            case 5:
            {
                int start = random.Next(n), length = random.Next(1, Math.Min(32, n - start) + 1);
                return [.. input.AsSpan(0, start), .. input.AsSpan(start + length)];
            }
            case 6:
            {
                var other = samples[random.Next(samples.Count)];
                int cut = random.Next(n + 1), from = random.Next(other.Length + 1);
                return [.. input.AsSpan(0, cut), .. other.AsSpan(from, Math.Min(other.Length - from, 256))];
            }
            case 7:
                return WriteLength(input, random.Next(n), random);
            case 8:
            {
                int found = -1, begin = random.Next(n);
                for (int i = 0; i < n && found < 0; i++)
                {
                    if (Array.IndexOf(Markers, input[(begin + i) % n]) >= 0) found = (begin + i) % n;
                }
                return WriteLength(input, found >= 0 ? found + 1 : random.Next(n), random);
            }
            default:
            {
                var b = (byte[])input.Clone();
                int start = random.Next(n);
                b.AsSpan(start, Math.Min(n - start, random.Next(1, 16))).Clear();
                return b;
            }
        }
    }

    private byte[] WriteLength(byte[] input, int at, Random random)
    {
        var b = new byte[Math.Max(input.Length, at + 4)];
        input.CopyTo(b, 0);
        uint value = HugeLengths[random.Next(HugeLengths.Length)];
        if (BigEndian) BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), value);
        else BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), value);
        return b;
    }

    /// <summary>Uniformly random bytes of the given length.</summary>
    public static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
