using Akka.Cluster.SBR;
using Distributed.Messages.Hosting;

namespace Distributed.Messages.Tests.Hosting;

public class ClusterSetupTests
{
    [Fact]
    public void The_split_brain_resolver_keeps_the_oldest_node_side_unless_that_node_is_alone()
    {
        var config = ClusterSetup.BuildConfig(new ClusterOptions(ClusterOptions.WorkerRole, "127.0.0.1", 0, null, []));
        var settings = new SplitBrainResolverSettings(config);
        Assert.Equal(SplitBrainResolverSettings.KeepOldestName, settings.DowningStrategy);
        Assert.True(settings.KeepOldestSettings.DownIfAlone);
        Assert.Null(settings.KeepOldestSettings.Role);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.DowningStableAfter);
        Assert.Equal("Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster", config.GetString("akka.cluster.downing-provider-class"));
    }
}
