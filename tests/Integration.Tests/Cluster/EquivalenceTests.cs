using Xunit.Abstractions;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>
/// Data-parallel training over a real cluster equals single-process training: 5 iterations of
/// the same global batches from the same seed, with 1, 2 and 3 workers.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class EquivalenceTests(ITestOutputHelper output)
{
    private const int Batch = 32, Iterations = 5;

    private static float[] SingleProcess(string model, float inputMean = 0f, float inputStd = 1f) =>
        TestPlans.SingleProcessWeights(model, Batch, Batch * Iterations, inputMean, inputStd);

    private static async Task<float[]> Distributed(string model, double[] throttles, float inputMean = 0f, float inputStd = 1f, bool tensorLink = true)
    {
        var plan = TestPlans.Plan(model, trainCount: Batch * Iterations, batch: Batch, microShard: 8, inputMean: inputMean, inputStd: inputStd);
        using var cluster = InProcessCluster.Start(plan, throttles, tensorLink: tensorLink);
        await cluster.WaitAsync(TimeSpan.FromSeconds(120));
        var epoch = Assert.Single(cluster.Epochs);
        Assert.Equal(Batch * Iterations, epoch.Metrics.Samples);
        int linked = cluster.LinkEvents.Count(e => e.Contains("connected from", StringComparison.Ordinal));
        Assert.Equal(tensorLink ? throttles.Length : 0, linked);
        // Over the link the dense head's gradient goes ahead of each shard; over chunks it never does ...
        Assert.Equal(tensorLink, cluster.LinkEvents.Any(e => e.Contains("gradient tails arrive ahead", StringComparison.Ordinal)));
        // ... and so do the updated weights of the dense head, once every shard's tail is in.
        Assert.Equal(tensorLink, cluster.LinkEvents.Any(e => e.Contains("weights' tail goes ahead", StringComparison.Ordinal)));
        return (await cluster.WeightsAsync()).Weights;
    }

    [Theory]
    [InlineData("seed-simple", 1)]
    [InlineData("seed-simple", 2)]
    [InlineData("seed-simple", 3)]
    [InlineData("small-cnn", 1)]
    [InlineData("small-cnn", 2)]
    [InlineData("small-cnn", 3)]
    public async Task Parameter_server_weights_equal_single_process_training(string model, int workers)
    {
        var expected = SingleProcess(model);
        var actual = await Distributed(model, [.. Enumerable.Repeat(1.0, workers)]);
        double worst = TestPlans.AssertClose(expected, actual);
        output.WriteLine($"{model}, {workers} workers: largest relative difference {worst:E2}");
    }

    [Fact]
    public async Task Standardised_inputs_give_the_same_weights_as_single_process_training()
    {
        var (mean, std) = TestPlans.Data.Train.PixelStatistics(Batch * Iterations);
        var expected = SingleProcess("small-cnn", mean, std);
        var actual = await Distributed("small-cnn", [1.0, 1.0], mean, std);
        TestPlans.AssertClose(expected, actual);
        Assert.NotEqual(SingleProcess("small-cnn"), expected);
    }

    [Fact]
    public async Task Tensors_over_akka_remote_chunks_give_the_same_weights_as_over_the_tensor_link()
    {
        var linked = await Distributed("small-cnn", [1.0, 1.0]);
        var chunked = await Distributed("small-cnn", [1.0, 1.0], tensorLink: false);
        Assert.Equal(linked, chunked);
    }

    [Fact]
    public async Task Repeating_a_run_gives_bit_identical_weights_whatever_the_shard_boundaries()
    {
        var even = await Distributed("small-cnn", [1.0, 1.0, 1.0]);
        var uneven = await Distributed("small-cnn", [1.0, 3.0, 1.0]);
        var again = await Distributed("small-cnn", [1.0, 1.0, 1.0]);
        Assert.Equal(even, again);
        Assert.Equal(even, uneven);
    }
}

/// <summary>Cluster tests run one at a time: each starts several ActorSystems on this 2-core machine.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster";
}
