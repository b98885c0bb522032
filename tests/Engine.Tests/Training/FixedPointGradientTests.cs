using Distributed.Engine.Training;

namespace Distributed.Engine.Tests.Training;

public class FixedPointGradientTests
{
    private static long Expected(float g) => (long)Math.Round(g * 4294967296.0, MidpointRounding.ToEven);

    [Fact]
    public void Accumulate_matches_the_scalar_rule_at_every_length_up_to_256()
    {
        var rng = new Random(3);
        for (int n = 0; n <= 256; n++)
        {
            var g = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-8, 5)))).ToArray();
            var acc = Enumerable.Range(0, n).Select(_ => (long)rng.Next(-1000, 1000)).ToArray();
            var expected = acc.Zip(g, (a, x) => a + Expected(x)).ToArray();
            Assert.True(FixedPointGradient.Accumulate(g, acc));
            Assert.Equal(expected, acc);
        }
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(3e7f)]
    public void Non_finite_or_out_of_range_values_are_marked_invalid_and_stay_so(float bad)
    {
        for (int position = 0; position < 40; position += 7)
        {
            var g = new float[40];
            g[position] = bad;
            var acc = new long[40];
            Assert.False(FixedPointGradient.Accumulate(g, acc));
            Assert.Equal(FixedPointGradient.Invalid, acc[position]);
            Assert.False(FixedPointGradient.IsValid(acc));
            Assert.False(FixedPointGradient.Accumulate(new float[40], acc));
            Assert.Equal(FixedPointGradient.Invalid, acc[position]);
        }
    }

    [Fact]
    public void Sums_do_not_depend_on_grouping()
    {
        var rng = new Random(5);
        var parts = Enumerable.Range(0, 6).Select(_ => Enumerable.Range(0, 1000).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray()).ToArray();
        var all = new long[1000];
        foreach (var p in parts) FixedPointGradient.Accumulate(p, all);
        var left = new long[1000];
        var right = new long[1000];
        foreach (var p in parts[..2]) FixedPointGradient.Accumulate(p, left);
        foreach (var p in parts[2..].Reverse()) FixedPointGradient.Accumulate(p, right);
        Assert.True(FixedPointGradient.Add(right, left));
        Assert.Equal(all, left);
        var f = new float[1000];
        FixedPointGradient.ToFloat(all, f);
        Assert.Equal(parts.Sum(p => (double)p[17]), f[17], 5);
    }
    [Fact]
    public void Accumulate_rounds_ties_to_even_and_takes_values_beyond_the_fast_range_exactly_at_every_length()
    {
        var rng = new Random(11);
        float[] special = [0.5f / 4294967296f, 1.5f / 4294967296f, -2.5f / 4294967296f, 3.5f / 4294967296f, 524287.97f, 524288f, -524288f, 600000.25f, -16777215f, 1e-12f, -0f];
        for (int n = 0; n <= 64; n++)
        {
            var g = Enumerable.Range(0, n).Select(_ => rng.Next(3) == 0 ? special[rng.Next(special.Length)] : (float)((rng.NextDouble() - 0.5) * 1e6)).ToArray();
            var acc = Enumerable.Range(0, n).Select(_ => (long)rng.Next(-1000, 1000)).ToArray();
            var expected = acc.Zip(g, (a, x) => a + Expected(x)).ToArray();
            Assert.True(FixedPointGradient.Accumulate(g, acc));
            Assert.Equal(expected, acc);
        }
    }

    [Fact]
    public void Add_matches_the_scalar_rule_and_keeps_invalid_markers_at_every_length()
    {
        var rng = new Random(13);
        for (int n = 0; n <= 64; n++)
        {
            var a = Enumerable.Range(0, n).Select(_ => rng.NextInt64(-1L << 50, 1L << 50)).ToArray();
            var b = Enumerable.Range(0, n).Select(_ => rng.NextInt64(-1L << 50, 1L << 50)).ToArray();
            int bad = n > 0 && rng.Next(2) == 0 ? rng.Next(n) : -1;
            if (bad >= 0) (rng.Next(2) == 0 ? a : b)[bad] = FixedPointGradient.Invalid;
            var expected = a.Zip(b, (x, y) => x == FixedPointGradient.Invalid || y == FixedPointGradient.Invalid ? FixedPointGradient.Invalid : x + y).ToArray();
            Assert.Equal(bad < 0, FixedPointGradient.Add(a, b));
            Assert.Equal(expected, b);
        }
    }
    [Fact]
    public void ToFloat_matches_the_scalar_conversion_at_every_length_including_huge_and_invalid_values()
    {
        var rng = new Random(19);
        long[] special = [0, 1, -1, (1L << 51) - 1, -(1L << 51) + 1, 1L << 51, -(1L << 51), 1L << 55, long.MinValue, long.MaxValue, 3L << 31];
        for (int n = 0; n <= 64; n++)
        {
            var sum = Enumerable.Range(0, n).Select(_ => rng.Next(4) == 0 ? special[rng.Next(special.Length)] : rng.NextInt64(-1L << 45, 1L << 45)).ToArray();
            var expected = sum.Select(v => (float)(v * (1.0 / 4294967296.0))).ToArray();
            var actual = new float[n];
            FixedPointGradient.ToFloat(sum, actual);
            Assert.Equal(expected, actual);
        }
    }
}
