using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;

namespace Distributed.Engine.Tests.Training;

public class ThreadDeterminismTests
{
    [Theory]
    [InlineData("seed-simple")]
    [InlineData("keras-mnist-cnn")]
    [InlineData("mobilenet-mini")]
    public void Gradients_and_weights_after_three_steps_are_bitwise_identical_for_1_2_and_3_threads(string name)
    {
        (float[] Weights, float[] Gradients) Run(int threads)
        {
            var model = BuiltInModels.Get(name).Build();
            model.InitializeWeights(9);
            model.Threads = threads;
            var trainer = new Trainer(model, new Sgd(new SgdOptions(LearningRate: 0.05f, Momentum: 0.9f, WeightDecay: 1e-4f)));
            trainer.Fit(TestData.Train.Slice(0, 96), new FitOptions(BatchSize: 32, Epochs: 1, Seed: 9));
            return (model.Weights.ToArray(), model.Gradients.ToArray());
        }
        var one = Run(1);
        foreach (int threads in new[] { 2, 3 })
        {
            var other = Run(threads);
            Assert.Equal(one.Gradients, other.Gradients);
            Assert.Equal(one.Weights, other.Weights);
        }
    }
}
