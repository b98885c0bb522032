using Distributed.Coordinator.ParameterServer;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Coordinator.Tests.ParameterServer;

public class GradientTailsTests
{
    private static GradientTail Tail(long iteration, int shard, string worker = "w") => new("run", iteration, 0, shard, worker, 10, new long[5], shard, 1);

    [Fact]
    public void A_step_takes_the_tails_of_its_iteration_once_in_shard_order()
    {
        var tails = new GradientTails();
        var second = Tail(4, 1);
        var first = Tail(4, 0);
        tails.Add(second, 8);
        tails.Add(Tail(5, 0), 8);
        tails.Add(first, 8);
        Assert.Equal(3, tails.Count);
        Assert.Equal([first, second], tails.TakeAll(4));
        Assert.Empty(tails.TakeAll(4));
        Assert.Single(tails.TakeAll(5));
    }

    [Fact]
    public void When_full_the_oldest_iteration_goes_first_and_old_iterations_are_forgotten()
    {
        var tails = new GradientTails();
        var newer = Tail(3, 0);
        tails.Add(newer, 2);
        tails.Add(Tail(2, 0), 2);
        var newest = Tail(3, 1);
        tails.Add(newest, 2);
        Assert.Equal(2, tails.Count);
        Assert.Empty(tails.TakeAll(2));
        Assert.Equal([newer, newest], tails.TakeAll(3));
        tails.Add(newer, 2);
        tails.DropBefore(4);
        Assert.Equal(0, tails.Count);
    }

    [Fact]
    public void A_dropped_or_replaced_tail_hands_its_array_back_to_the_pool()
    {
        const int length = 54_321; // a size no other test rents
        var tails = new GradientTails();
        var first = TensorBufferPool.Rent<long>(length);
        tails.Add(new GradientTail("run", 1, 0, 0, "w", 10, first, 0, 1), 8);
        tails.Add(new GradientTail("run", 1, 0, 0, "w", 10, new long[length], 0, 1), 8); // replaces it
        Assert.Same(first, TensorBufferPool.Rent<long>(length));
        tails.Add(new GradientTail("run", 1, 0, 1, "w", 10, first, 1, 1), 8);
        tails.DropBefore(2);
        Assert.Same(first, TensorBufferPool.Rent<long>(length));
    }
}
