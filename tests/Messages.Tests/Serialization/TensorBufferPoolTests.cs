using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Tests.Serialization;

public class TensorBufferPoolTests
{
    // Sizes no other test rents, so tests running in parallel cannot take each other's arrays.
    private const int Length = 123_457;

    [Fact]
    public void A_returned_array_is_rented_again_and_only_once()
    {
        var first = TensorBufferPool.Rent<float>(Length);
        TensorBufferPool.Return(first);
        TensorBufferPool.Return(first); // a second return is ignored
        var again = TensorBufferPool.Rent<float>(Length);
        var other = TensorBufferPool.Rent<float>(Length);
        Assert.Same(first, again);
        Assert.NotSame(first, other);
        Assert.Equal(Length, other.Length);
    }

    [Fact]
    public void Arrays_the_caller_made_are_never_pooled()
    {
        var mine = new long[Length + 1];
        TensorBufferPool.Return(mine);
        Assert.NotSame(mine, TensorBufferPool.Rent<long>(Length + 1));
    }

    [Fact]
    public void Small_arrays_are_plain_allocations()
    {
        var small = TensorBufferPool.Rent<int>(10);
        TensorBufferPool.Return(small);
        Assert.NotSame(small, TensorBufferPool.Rent<int>(10));
    }

    [Fact]
    public void A_shared_frame_goes_back_to_the_pool_after_its_last_holder_releases_it()
    {
        var update = new WeightsUpdated("run", 3, 2, Enumerable.Range(0, 70_001).Select(i => (float)i).ToArray(), []);
        var frame = TensorCodec.EncodePooled(update);
        Assert.Equal(TensorCodec.ToBytes(update), frame.Memory.ToArray());
        frame.Share();
        frame.Release();
        var stillHeld = TensorBufferPool.RentBytes(frame.Length);
        Assert.NotSame(frame.Buffer, stillHeld);
        frame.Release();
        Assert.Same(frame.Buffer, TensorBufferPool.RentBytes(frame.Length));
    }

    [Fact]
    public void Decoded_weights_come_from_the_pool_and_may_be_handed_back()
    {
        var update = new WeightsUpdated("run", 1, 0, Enumerable.Range(0, 80_003).Select(i => i * 0.5f).ToArray(), []);
        var decoded = Assert.IsType<WeightsUpdated>(TensorCodec.Decode(TensorCodec.WeightsUpdatedManifest, TensorCodec.ToBytes(update)));
        Assert.Equal(update.Weights, decoded.Weights);
        TensorBufferPool.Return(decoded.Weights);
        Assert.Same(decoded.Weights, TensorBufferPool.Rent<float>(80_003));
    }
}
