using System.Runtime.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Tests.Serialization;

public class CompactFixedPointTests
{
    private static readonly long[] Awkward =
        [0, 1, -1, int.MaxValue, int.MinValue, int.MinValue + 1L, (long)int.MaxValue + 1, long.MinValue, long.MaxValue, -5_000_000_000, 12345];

    // The scalar reference of the compact form, the oracle for the vectorised WriteLow and Exceptions.
    private static (int[] Low, int[] ExceptionIndices, long[] ExceptionValues) Split(ReadOnlySpan<long> values)
    {
        var low = new int[values.Length];
        List<int> indices = [];
        List<long> exceptions = [];
        for (int i = 0; i < values.Length; i++)
        {
            long v = values[i];
            if (v > int.MinValue && v <= int.MaxValue)
            {
                low[i] = (int)v;
                continue;
            }
            low[i] = int.MinValue;
            indices.Add(i);
            exceptions.Add(v);
        }
        return (low, [.. indices], [.. exceptions]);
    }

    [Fact]
    public void Split_and_join_round_trip_every_value_including_the_invalid_marker()
    {
        var (low, indices, values) = Split(Awkward);
        Assert.Equal(Awkward.Length, low.Length);
        Assert.Equal([4, 6, 7, 8, 9], indices);
        Assert.Equal(Awkward, CompactFixedPoint.Join(low, indices, values));
    }

    [Fact]
    public void A_gradient_shard_with_out_of_range_values_round_trips_through_the_codec()
    {
        var gradient = Enumerable.Range(0, 10_000).Select(i => (long)i * 7919 - 30_000_000).ToArray();
        gradient[17] = long.MinValue;
        gradient[9_999] = 1L << 50;
        var shard = new GradientShard("run", 3, 4, 1, "w", 0, [8], [1.5], [2], gradient, [0.5f], 12.0);
        var (manifest, bytes) = TensorCodec.Encode(shard);
        var back = Assert.IsType<GradientShard>(TensorCodec.Decode(manifest, bytes));
        Assert.Equal(gradient, back.GradientFixedPoint);
        Assert.True(bytes.Length < gradient.Length * 5, $"{bytes.Length} bytes for {gradient.Length} values");
    }

    [Fact]
    public void Inconsistent_exception_lists_are_rejected()
    {
        var (low, indices, values) = Split(Awkward);
        Assert.Throws<SerializationException>(() => CompactFixedPoint.Join(low, indices[..^1], values));          // count mismatch
        Assert.Throws<SerializationException>(() => CompactFixedPoint.Join(low, indices[..^1], values[..^1]));    // a marked slot without exception
        Assert.Throws<SerializationException>(() => CompactFixedPoint.Join(low, [.. indices, 10], [.. values, long.MaxValue])); // index on an unmarked slot
        var fits = values.ToArray();
        fits[1] = 5;
        Assert.Throws<SerializationException>(() => CompactFixedPoint.Join(low, indices, fits));                  // value that fits in 32 bits
        var swapped = indices.ToArray();
        (swapped[0], swapped[1]) = (swapped[1], swapped[0]);
        Assert.Throws<SerializationException>(() => CompactFixedPoint.Join(low, swapped, values));                // out of order
    }
    [Fact]
    public void Vectorised_write_exceptions_and_join_agree_with_split_at_every_length()
    {
        var rng = new Random(17);
        for (int n = 0; n <= 80; n++)
        {
            var values = Enumerable.Range(0, n).Select(_ => rng.Next(5) == 0 ? Awkward[rng.Next(Awkward.Length)] : rng.NextInt64(int.MinValue + 1L, int.MaxValue)).ToArray();
            var (low, indices, exceptions) = Split(values);
            var written = new int[n];
            CompactFixedPoint.WriteLow(values, written);
            Assert.Equal(low, written);
            var (foundIndices, foundValues) = CompactFixedPoint.Exceptions(values);
            Assert.Equal(indices, foundIndices);
            Assert.Equal(exceptions, foundValues);
            Assert.Equal(values, CompactFixedPoint.Join(written, foundIndices, foundValues, new long[n]));
        }
    }
}
