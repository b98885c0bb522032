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
}
