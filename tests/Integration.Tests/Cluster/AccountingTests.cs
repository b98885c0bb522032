namespace Distributed.Integration.Tests.Cluster;

/// <summary>Every epoch uses every training sample exactly once, whatever the workers and their speeds.</summary>
[Collection(ClusterCollection.Name)]
public sealed class AccountingTests
{
    [Theory]
    [InlineData(new[] { 1.0 })]
    [InlineData(new[] { 1.0, 1.0 })]
    [InlineData(new[] { 1.0, 3.0, 1.0 })]
    public async Task Each_epoch_uses_every_training_sample_once(double[] throttles)
    {
        // 200 samples at batch 32: six full batches and one of 8, in micro-shards of 8.
        var plan = TestPlans.Plan("seed-simple", trainCount: 200, batch: 32, microShard: 8, epochs: 2);
        using var cluster = InProcessCluster.Start(plan, throttles);
        await cluster.WaitAsync(TimeSpan.FromSeconds(120));
        var epochs = cluster.Epochs.ToList();
        Assert.Equal(2, epochs.Count);
        Assert.All(epochs, e => Assert.Equal(200, e.Metrics.Samples));
        Assert.All(epochs, e => Assert.Equal(7, e.Metrics.Iterations));
        Assert.All(epochs, e => Assert.Equal(throttles.Length, e.Workers));
    }
}
