using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Tests.Golden;
using Xunit;

namespace Distributed.Engine.Tests.Layers;

public sealed class DropoutTests
{
    private static StepContext Training(ulong seed, int epoch, params int[] sampleIndices) =>
        new() { Training = true, Seed = seed, Epoch = epoch, SampleIndices = sampleIndices };

    [Fact]
    public void Inference_mode_is_the_identity_forward_and_backward()
    {
        var h = new LayerHarness(TensorShape.Image(3, 3, 2), new Dropout(0.5f), 2);
        var x = GradientCheck.Uniform(36, 151);
        var y = h.Forward(x, 2, StepContext.Inference());
        Assert.Equal(x, y);
        var dy = GradientCheck.Uniform(36, 152);
        Assert.Equal(dy, h.Backward(x, y, dy, 2));
    }

    [Fact]
    public void Training_keeps_each_element_scaled_by_inverse_keep_probability_or_zeroes_it_at_the_rate()
    {
        const float rate = 0.3f;
        const int batch = 10, features = 1000;
        var h = new LayerHarness(TensorShape.Vector(features), new Dropout(rate), batch);
        var x = Enumerable.Repeat(1f, batch * features).ToArray();
        var y = h.Forward(x, batch, Training(3, 0, [.. Enumerable.Range(0, batch)]));
        float scale = 1f / (1f - rate);
        Assert.All(y, v => Assert.True(v == 0f || v == scale, $"unexpected value {v}"));
        double dropped = y.Count(v => v == 0f) / (double)y.Length;
        Assert.InRange(dropped, rate - 0.03, rate + 0.03);
        // Backward applies the same mask.
        var dy = GradientCheck.Uniform(y.Length, 153);
        var dx = h.Backward(x, y, dy, batch);
        for (int i = 0; i < y.Length; i++) Assert.Equal(dy[i] * y[i], dx[i]);
    }

    [Fact]
    public void Mask_depends_only_on_seed_epoch_and_sample_index_not_on_batch_row()
    {
        const int features = 64;
        var a = new LayerHarness(TensorShape.Vector(features), new Dropout(0.5f), 3);
        var b = new LayerHarness(TensorShape.Vector(features), new Dropout(0.5f), 3);
        var xa = GradientCheck.Uniform(2 * features, 161, 1, 2);
        // b holds the same two samples in the opposite rows, plus a third one.
        var xb = new float[3 * features];
        xa.AsSpan(features, features).CopyTo(xb);
        xa.AsSpan(0, features).CopyTo(xb.AsSpan(features));
        GradientCheck.Uniform(features, 162, 1, 2).CopyTo(xb.AsSpan(2 * features));

        var ya = a.Forward(xa, 2, Training(9, 4, 5, 9));
        var yb = b.Forward(xb, 3, Training(9, 4, 9, 5, 11));
        Assert.Equal(ya.AsSpan(0, features).ToArray(), yb.AsSpan(features, features).ToArray()); // sample 5
        Assert.Equal(ya.AsSpan(features, features).ToArray(), yb.AsSpan(0, features).ToArray()); // sample 9

        // Deterministic on repeat, and a different epoch or seed gives a different mask.
        Assert.Equal(ya, a.Forward(xa, 2, Training(9, 4, 5, 9)));
        Assert.NotEqual(ya, a.Forward(xa, 2, Training(9, 5, 5, 9)));
        Assert.NotEqual(ya, a.Forward(xa, 2, Training(10, 4, 5, 9)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(255)]
    [InlineData(9216)]
    public void Mask_is_the_documented_hash_of_seed_layer_epoch_sample_and_element(int features)
    {
        // keep iff (SplitMix64 finaliser of key + element·φ) >> 40 ≥ ceil(rate · 2²⁴), where key hashes
        // (seed, FNV-1a of the layer name, epoch << 32 | sample index): every vector width gives these bits.
        const float rate = 0.4f;
        const int batch = 2;
        var layer = new Dropout(rate, name: "drop");
        var h = new LayerHarness(TensorShape.Vector(features), layer, batch);
        var y = h.Forward(Enumerable.Repeat(1f, batch * features).ToArray(), batch, Training(5, 2, 11, 4));
        ulong stream = 14695981039346656037UL;
        foreach (char ch in "drop") { stream ^= ch; stream *= 1099511628211UL; }
        uint threshold = (uint)Math.Ceiling(rate * 16777216.0);
        int[] samples = [11, 4];
        for (int s = 0; s < batch; s++)
        {
            ulong key = Randomness.CounterRandom.Hash(5, stream, (2UL << 32) | (uint)samples[s]);
            for (int i = 0; i < features; i++)
            {
                bool keep = (uint)(Randomness.CounterRandom.Mix(key + (ulong)i * 0x9E3779B97F4A7C15UL) >> 40) >= threshold;
                Assert.Equal(keep ? 1f / (1f - rate) : 0f, y[s * features + i]);
            }
        }
    }

    [Fact]
    public void Rate_zero_is_the_identity_in_training()
    {
        var h = new LayerHarness(TensorShape.Vector(16), new Dropout(0f), 2);
        var x = GradientCheck.Uniform(32, 154);
        Assert.Equal(x, h.Forward(x, 2, Training(1, 0, 0, 1)));
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int batch = 2;
        var h = new LayerHarness(TensorShape.Image(3, 3, 2), new Dropout(0.4f), batch);
        var x = GradientCheck.Uniform(batch * h.InSize, 171);
        var ctx = Training(21, 1, 7, 8);
        GradientCheck.BackwardMatchesFiniteDifferences(h, x, batch, ctx, seed: 172);
        // The check is meaningful only if the mask dropped something and kept something.
        var y = h.Forward(x, batch, ctx);
        Assert.Contains(y, v => v == 0f);
        Assert.Contains(y, v => v != 0f);
    }
}
