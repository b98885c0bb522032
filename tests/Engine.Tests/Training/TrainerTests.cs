using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Training;

namespace Distributed.Engine.Tests.Training;

public class TrainerTests
{
    private static Sequential SmallCnn() => new(TensorShape.Image(28, 28, 1),
    [
        new Conv2D(8, 3, activation: Activation.Relu),
        new MaxPooling2D(2),
        new Conv2D(16, 3, activation: Activation.Relu),
        new MaxPooling2D(2),
        new Flatten(),
        new Dense(10),
    ]);

    [Fact]
    public void Fit_on_the_slice_reaches_sixty_percent_test_accuracy()
    {
        var model = SmallCnn();
        model.InitializeWeights(seed: 1);
        var trainer = new Trainer(model, new Sgd(new SgdOptions(LearningRate: 0.05f, Momentum: 0.9f)));
        var history = trainer.Fit(TestData.Train, new FitOptions(BatchSize: 32, Epochs: 4, ValidationSplit: 0.1, Seed: 1));
        var test = trainer.Evaluate(TestData.Test);

        Assert.Equal(4, history.Count);
        Assert.All(history, h => Assert.Equal(1800, h.Samples));
        Assert.All(history, h => Assert.Equal(57, h.Iterations)); // ⌈1800 / 32⌉
        Assert.True(history[^1].Loss < history[0].Loss, $"loss did not fall: {history[0].Loss} → {history[^1].Loss}");
        Assert.True(test.Top1 >= 0.6, $"test accuracy {test.Top1:F3} < 0.6");
        Assert.True(test.Top5 >= test.Top1);
        Assert.Equal(500, test.Samples);
    }

    [Fact]
    public void A_frozen_layer_is_bit_identical_after_training()
    {
        var model = SmallCnn();
        model.InitializeWeights(seed: 2);
        var frozen = model.Layers[0];
        frozen.Trainable = false;
        var before = model.Weights.AsSpan(frozen.ParameterOffset, frozen.ParameterCount).ToArray();
        var other = model.Layers[2];
        var otherBefore = model.Weights.AsSpan(other.ParameterOffset, other.ParameterCount).ToArray();
        var trainer = new Trainer(model, new Sgd(new SgdOptions(LearningRate: 0.05f, Momentum: 0.9f, WeightDecay: 1e-3f)));
        trainer.Fit(TestData.Train.Slice(0, 256), new FitOptions(BatchSize: 32, Epochs: 1, Seed: 2));

        Assert.Equal(before, model.Weights.AsSpan(frozen.ParameterOffset, frozen.ParameterCount).ToArray());
        Assert.NotEqual(otherBefore, model.Weights.AsSpan(other.ParameterOffset, other.ParameterCount).ToArray());
    }

    [Fact]
    public void Validation_split_holds_out_the_last_fraction_as_keras_does()
    {
        var options = new FitOptions(BatchSize: 100, ValidationSplit: 0.1);
        Assert.Equal(54_000, options.TrainCount(60_000));
        Assert.Equal(480, EpochOrder.Iterations(48_000, 100));
        Assert.Equal(422, EpochOrder.Iterations(54_000, 128));
    }

    [Fact]
    public void The_same_seed_gives_bit_identical_weights()
    {
        float[] Run()
        {
            var model = SmallCnn();
            model.InitializeWeights(seed: 3);
            var trainer = new Trainer(model, new Sgd(new SgdOptions(LearningRate: 0.05f, Momentum: 0.9f)));
            trainer.Fit(TestData.Train.Slice(0, 200), new FitOptions(BatchSize: 50, Epochs: 1, Seed: 3));
            return model.Weights.ToArray();
        }
        Assert.Equal(Run(), Run());
    }
}
