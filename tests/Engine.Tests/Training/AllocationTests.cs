using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;

namespace Distributed.Engine.Tests.Training;

public class AllocationTests
{
    [Theory]
    [InlineData("keras-mnist-cnn")]
    [InlineData("mobilenet-mini")]
    public void Steady_state_training_iterations_allocate_nothing(string name)
    {
        const int batch = 32;
        var model = BuiltInModels.Get(name).Build();
        model.InitializeWeights(1);
        var data = TestData.Train;
        var images = new float[batch * model.InputShape.Size];
        var labels = new int[batch];
        var indices = Enumerable.Range(0, batch).ToArray();
        data.Gather(indices, images, labels);
        var context = new StepContext { Training = true, SampleIndices = indices };
        var sgd = new Sgd(new SgdOptions(LearningRate: 0.01f, Momentum: 0.9f, WeightDecay: 1e-4f));
        var velocity = new float[model.Weights.Length];
        var segments = model.TrainableSegments();
        void Step()
        {
            data.Gather(indices, images, labels);
            model.ComputeGradients(images, labels, batch, context, 1f / batch);
            sgd.Step(model.Weights, model.Gradients, velocity, segments, 0.01f);
        }
        Step();
        Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{name}: 20 iterations allocated {allocated} bytes");
    }
}
