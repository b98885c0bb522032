using Distributed.Coordinator.ParameterServer;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.Tests.ParameterServer;

public class GradientTailsTests
{
    private static GradientTail Tail(long iteration, int shard, string worker = "w") => new("run", iteration, 0, shard, worker, 10, new long[5]);

    [Fact]
    public void A_shard_takes_its_own_tail_once()
    {
        var tails = new GradientTails();
        var mine = Tail(4, 1);
        Assert.Null(tails.Add(mine, 8));
        Assert.Null(tails.Add(Tail(4, 1, "other"), 8));
        Assert.Null(tails.Take(4, 2, "w"));
        Assert.Same(mine, tails.Take(4, 1, "w"));
        Assert.Null(tails.Take(4, 1, "w"));
    }

    [Fact]
    public void When_full_the_oldest_iteration_goes_first_and_old_iterations_are_forgotten()
    {
        var tails = new GradientTails();
        var oldest = Tail(2, 0);
        tails.Add(Tail(3, 0), 2);
        tails.Add(oldest, 2);
        Assert.Same(oldest, tails.Add(Tail(3, 1), 2));
        Assert.Equal(2, tails.Count);
        tails.DropBefore(4);
        Assert.Equal(0, tails.Count);
    }
}
