using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;
using Distributed.Engine.Training;

namespace Distributed.Engine.Tests.Training;

public class ShardComputerTests
{
    // Every layer kind the whole-shard path takes: both convolution algorithms (direct for the thin first
    // layer, im2col for 40 filters), a strided 'same' convolution, a pointwise one, fused ReLU6, pooling,
    // dropout, and dense layers with and without an activation.
    private static Sequential MixedModel() => new(TensorShape.Image(28, 28, 1),
    [
        new Conv2D(8, 3, activation: Activation.Relu),
        new Conv2D(40, 3, stride: 2, padding: PaddingMode.Same, activation: Activation.Relu6),
        new Conv2D(12, 1),
        new ReLU(),
        new AveragePooling2D(2),
        new MaxPooling2D(2, padding: PaddingMode.Same),
        new Dropout(0.3f),
        new Flatten(),
        new Dense(24, activation: Activation.Relu),
        new Dropout(0.2f),
        new Dense(10),
    ]);

    private static Sequential Build(string name) => name == "mixed" ? MixedModel() : BuiltInModels.Get(name).Build();

    private static (ShardResult Result, long[] Sum) Compute(string name, int threads, bool wholeShard, int[] indices, Action<Sequential>? adjust = null)
    {
        var model = Build(name);
        model.InitializeWeights(5);
        model.Threads = threads;
        adjust?.Invoke(model);
        var computer = new ShardComputer(model, TestData.Train, 16, 77) { WholeShard = wholeShard };
        var result = computer.Compute(2, indices);
        return (result, result.GradientFixedPoint.ToArray());
    }

    private static int[] Indices(int count, int offset) => Enumerable.Range(0, count).Select(i => (i * 37 + offset) % TestData.Train.Count).ToArray();

    [Theory]
    [InlineData("keras-mnist-cnn", 1)]
    [InlineData("keras-mnist-cnn", 2)]
    [InlineData("seed-simple", 1)]
    [InlineData("seed-simple", 3)]
    [InlineData("mixed", 1)]
    [InlineData("mixed", 2)]
    public void Whole_shard_gives_the_bits_of_micro_shards_computed_one_by_one(string name, int threads)
    {
        foreach (int count in new[] { 1, 15, 16, 17, 33, 64, 71 })
        {
            var indices = Indices(count, count);
            var (oneByOne, expected) = Compute(name, 1, wholeShard: false, indices);
            var (whole, actual) = Compute(name, threads, wholeShard: true, indices);
            Assert.Equal(oneByOne.MicroShardSizes, whole.MicroShardSizes);
            Assert.Equal(oneByOne.LossSums, whole.LossSums);
            Assert.Equal(oneByOne.Correct, whole.Correct);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{name}, {count} samples, {threads} threads: the fixed-point sums differ");
            Assert.Contains(actual, v => v != 0);
        }
    }

    [Fact]
    public void Whole_shard_with_a_frozen_layer_matches_one_by_one_and_leaves_its_gradient_zero()
    {
        var indices = Indices(48, 3);
        void Freeze(Sequential m) => m.FreezeUpTo("conv2d");
        var (_, expected) = Compute("keras-mnist-cnn", 1, wholeShard: false, indices, Freeze);
        var (_, actual) = Compute("keras-mnist-cnn", 1, wholeShard: true, indices, Freeze);
        Assert.True(expected.AsSpan().SequenceEqual(actual));
        var conv = BuiltInModels.Get("keras-mnist-cnn").Build()["conv2d"];
        Assert.All(actual.AsSpan(conv.ParameterOffset, conv.ParameterCount).ToArray(), v => Assert.Equal(0L, v));
    }

    [Fact]
    public void A_non_finite_weight_is_marked_invalid_as_one_by_one_marks_it()
    {
        var indices = Indices(40, 9);
        void Poison(Sequential m) => m.Weights[m["dense"].ParameterOffset + 5] = float.NaN;
        var (_, expected) = Compute("keras-mnist-cnn", 1, wholeShard: false, indices, Poison);
        var (_, actual) = Compute("keras-mnist-cnn", 1, wholeShard: true, indices, Poison);
        Assert.Contains(FixedPointGradient.Invalid, actual);
        Assert.True(expected.AsSpan().SequenceEqual(actual));
    }

    [Fact]
    public void The_tail_handed_ahead_is_the_final_sum_of_the_dense_head()
    {
        var model = BuiltInModels.Get("keras-mnist-cnn").Build();
        model.InitializeWeights(5);
        var computer = new ShardComputer(model, TestData.Train, 16, 77);
        int offset = -1;
        long[] early = [];
        computer.TailReady = (o, tail) => { offset = o; early = tail.ToArray(); return true; };
        var result = computer.Compute(0, Indices(40, 2));
        Assert.Equal(model["dense"].ParameterOffset, offset);
        Assert.Equal(offset, result.TailOffset);
        Assert.True(early.AsSpan().SequenceEqual(result.GradientFixedPoint.AsSpan(offset)));

        computer.TailReady = (_, _) => false; // refused: the shard says none went ahead
        Assert.Equal(-1, computer.Compute(0, Indices(40, 2)).TailOffset);
    }

    [Fact]
    public void Batch_normalisation_models_run_micro_shards_one_by_one()
    {
        Assert.False(BuiltInModels.Get("mobilenet-mini").Build().SupportsGroupedGradients);
        Assert.True(BuiltInModels.Get("keras-mnist-cnn").Build().SupportsGroupedGradients);
        var indices = Indices(40, 1);
        var (_, expected) = Compute("mobilenet-mini", 1, wholeShard: false, indices);
        var (_, actual) = Compute("mobilenet-mini", 1, wholeShard: true, indices);
        Assert.True(expected.AsSpan().SequenceEqual(actual));
    }

    [Fact]
    public void Grouped_gradients_reject_groups_that_do_not_add_up_to_the_batch()
    {
        var model = BuiltInModels.Get("seed-simple").Build();
        var x = new float[8 * model.InputShape.Size];
        var labels = new int[8];
        var context = new StepContext { Training = true, SampleIndices = new int[8] };
        var e = Assert.Throws<ArgumentException>(() => model.ComputeGroupedGradients(x, labels, 8, context, [4, 3], new double[2], new int[2], new NullSink()));
        Assert.Contains("7 samples", e.Message);
    }

    private sealed class NullSink : IGradientSink
    {
        public void Accept(int offset, int count) { }

        public void LayerCompleted(int offset) { }
    }
}
