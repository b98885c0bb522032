using Distributed.Engine.Kernels;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;

namespace Distributed.Engine.Tests.Training;

/// <summary>Runs alone: it counts what the engine's shared thread pool allocates.</summary>
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public sealed class AllocationTestsCollection;

[Collection(nameof(AllocationTests))]
public class AllocationTests
{
    [Theory]
    [InlineData("keras-mnist-cnn", 1)]
    [InlineData("mobilenet-mini", 1)]
    [InlineData("seed-simple", 1)]
    [InlineData("keras-mnist-cnn", 2)]
    [InlineData("mobilenet-mini", 3)]
    public void Steady_state_training_iterations_allocate_nothing(string name, int threads)
    {
        const int batch = 32;
        var model = BuiltInModels.Get(name).Build();
        model.Threads = threads;
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
        // The calling thread and the engine's pool threads (other tests may use the pool meanwhile:
        // their steady state allocates nothing either, so the pool's count must not move).
        long before = GC.GetAllocatedBytesForCurrentThread(), poolBefore = ParallelJobs.WorkerAllocatedBytes;
        for (int i = 0; i < 20; i++) Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before, pool = ParallelJobs.WorkerAllocatedBytes - poolBefore;
        Assert.True(allocated == 0, $"{name}, {threads} threads: 20 iterations allocated {allocated} bytes on the calling thread");
        Assert.True(pool == 0, $"{name}, {threads} threads: 20 iterations allocated {pool} bytes on engine threads");
    }
}
