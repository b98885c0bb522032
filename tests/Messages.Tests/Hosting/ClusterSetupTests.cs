using Akka.Cluster.SBR;
using Distributed.Messages.Hosting;

namespace Distributed.Messages.Tests.Hosting;

public class ClusterSetupTests
{
    [Fact]
    public void The_split_brain_resolver_keeps_the_side_with_the_coordinator_whatever_the_worker_count()
    {
        var config = ClusterSetup.BuildConfig(new ClusterOptions(ClusterOptions.WorkerRole, "127.0.0.1", 0, null, []));
        var settings = new SplitBrainResolverSettings(config);
        Assert.Equal(SplitBrainResolverSettings.KeepMajorityName, settings.DowningStrategy);
        Assert.Equal(ClusterOptions.CoordinatorRole, settings.KeepMajorityRole);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.DowningStableAfter);
        // Churn (workers killed every few seconds) must not down the whole cluster.
        Assert.Equal(TimeSpan.Zero, settings.DownAllWhenUnstable);
        Assert.Equal("Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster", config.GetString("akka.cluster.downing-provider-class"));
    }
}
