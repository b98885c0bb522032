using System.Runtime.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Transport;

namespace Distributed.Messages.Tests.Transport;

public sealed class TensorLinkFrameTests
{
    private static readonly byte[] Token = Enumerable.Range(0, TensorLinkFrame.TokenBytes).Select(i => (byte)(i * 7)).ToArray();

    [Fact]
    public void Hello_round_trips_run_id_and_token()
    {
        var (runId, token) = TensorLinkFrame.DecodeHello(TensorLinkFrame.EncodeHello("run-é-1", Token));
        Assert.Equal("run-é-1", runId);
        Assert.Equal(Token, token);
    }

    [Fact]
    public void Hello_with_wrong_version_or_inconsistent_length_is_rejected()
    {
        byte[] hello = TensorLinkFrame.EncodeHello("run-1", Token);
        var badVersion = (byte[])hello.Clone();
        badVersion[0] = 9;
        Assert.Throws<SerializationException>(() => TensorLinkFrame.DecodeHello(badVersion));
        Assert.Throws<SerializationException>(() => TensorLinkFrame.DecodeHello(hello.AsSpan(0, hello.Length - 1)));
        var badLength = (byte[])hello.Clone();
        badLength[1] = 200;
        Assert.Throws<SerializationException>(() => TensorLinkFrame.DecodeHello(badLength));
        Assert.Throws<SerializationException>(() => TensorLinkFrame.DecodeHello([]));
    }

    [Fact]
    public void Hello_rejects_invalid_utf8_run_id()
    {
        byte[] hello = TensorLinkFrame.EncodeHello("ab", Token);
        hello[2] = 0xff;
        Assert.Throws<SerializationException>(() => TensorLinkFrame.DecodeHello(hello));
    }

    [Fact]
    public void Header_round_trips_and_a_length_over_the_limit_is_rejected_before_allocation()
    {
        var header = new byte[TensorLinkFrame.HeaderBytes];
        TensorLinkFrame.WriteHeader(header, TensorLinkFrame.GradientShardKind, 123_456);
        Assert.Equal((TensorLinkFrame.GradientShardKind, 123_456), TensorLinkFrame.ReadHeader(header, 200_000));
        TensorLinkFrame.WriteHeader(header, TensorLinkFrame.WeightsUpdatedKind, int.MaxValue);
        var e = Assert.Throws<SerializationException>(() => TensorLinkFrame.ReadHeader(header, 200_000));
        Assert.Contains("200000", e.Message);
    }

    [Fact]
    public void Only_gradient_shards_and_weight_updates_have_a_frame_kind()
    {
        Assert.Equal(TensorLinkFrame.GradientShardKind, TensorLinkFrame.KindOf(new GradientShard("r", 1, 1, 0, "w", 0, [1], [0], [0], [0], [], 0)));
        Assert.Equal(TensorLinkFrame.WeightsUpdatedKind, TensorLinkFrame.KindOf(new WeightsUpdated("r", 1, 1, [1f], [])));
        Assert.Throws<ArgumentException>(() => TensorLinkFrame.KindOf(new WeightsSnapshot("r", 1, 1, [1f], [])));
        Assert.Throws<SerializationException>(() => TensorLinkFrame.ManifestOf((byte)'H'));
    }
}
