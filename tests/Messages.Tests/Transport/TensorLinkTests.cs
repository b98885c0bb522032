using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Distributed.Messages.Tests.Serialization;
using Distributed.Messages.Transport;
using Xunit.Abstractions;

namespace Distributed.Messages.Tests.Transport;

/// <summary>A real tensor link on loopback: server and client sockets, Akka test probes as the owners.</summary>
public sealed class TensorLinkTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = INFO", "link", output)
{
    private const long MaxBody = 64L << 20;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private TensorLinkServer StartServer(IActorRef owner, string runId = "run-1", long maxBody = MaxBody) =>
        TensorLinkServer.Start("127.0.0.1", 0, "127.0.0.1", runId, owner, Logging.GetLogger(Sys, "link"), maxBody);

    private static GradientShard Shard(int iteration, int parameters = 300_000) => new("run-1", iteration, iteration, 0, "worker-1", 0,
        [32, 32], [1.5, 2.25], [30, 31], WireTestSupport.Longs(parameters), WireTestSupport.Floats(64, 3), 12.75);

    [Fact]
    public async Task Gradients_and_weights_cross_the_link_with_the_right_senders()
    {
        var psProbe = CreateTestProbe("ps");
        var workerRef = CreateTestProbe("worker-actor");
        var clientOwner = CreateTestProbe("client-owner");
        using var server = StartServer(psProbe);
        var offer = server.Offer(workerRef);
        using var client = await TensorLinkClient.ConnectAsync(offer, clientOwner, psProbe, MaxBody, _ => { }, Timeout);

        var shard = Shard(7);
        Assert.True(client.TrySend(shard));
        var received = psProbe.ExpectMsg<GradientShard>(Timeout);
        Assert.Equal(workerRef.Ref, psProbe.LastSender);
        WireTestSupport.AssertDeepEqual(shard, received);

        AwaitCondition(() => server.ConnectedCount == 1, Timeout);
        var weights = new WeightsUpdated("run-1", 8, 7, WireTestSupport.Floats(1_200_000, 4), WireTestSupport.Floats(100, 5));
        byte[] body = TensorCodec.ToBytes(weights);
        Assert.True(server.TrySend(workerRef, TensorLinkFrame.WeightsUpdatedKind, body));
        Assert.True(server.TrySend(workerRef, TensorLinkFrame.WeightsUpdatedKind, body));
        for (int i = 0; i < 2; i++)
        {
            WireTestSupport.AssertDeepEqual(weights, clientOwner.ExpectMsg<WeightsUpdated>(Timeout));
            Assert.Equal(psProbe.Ref, clientOwner.LastSender);
        }
    }

    [Fact]
    public async Task A_worker_that_sends_faster_than_the_owner_handles_is_held_back_at_the_unconsumed_limit()
    {
        var psProbe = CreateTestProbe("ps");
        var workerRef = CreateTestProbe("worker-actor");
        using var server = StartServer(psProbe);
        using var client = await TensorLinkClient.ConnectAsync(server.Offer(workerRef), CreateTestProbe(), psProbe, MaxBody, _ => { }, Timeout);
        const int sent = 30;
        // The client's own queue is small; the socket buffers behind it hold all of these small shards.
        for (int i = 0; i < sent; i++)
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (!client.TrySend(Shard(i, parameters: 1000))) { Assert.True(DateTime.UtcNow < deadline, "the link took no more frames"); await Task.Delay(5); }
        }

        for (int i = 0; i < TensorLinkServer.UnconsumedLimit; i++) Assert.Equal(i, psProbe.ExpectMsg<GradientShard>(Timeout).Iteration);
        psProbe.ExpectNoMsg(TimeSpan.FromSeconds(1));
        for (int i = 0; i < 5; i++) server.Consumed(workerRef);
        for (int i = 0; i < 5; i++) Assert.Equal(TensorLinkServer.UnconsumedLimit + i, psProbe.ExpectMsg<GradientShard>(Timeout).Iteration);
        psProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        // Reports beyond the limit (messages that came another way) do not widen it.
        for (int i = 0; i < 100; i++) server.Consumed(workerRef);
        for (int i = TensorLinkServer.UnconsumedLimit + 5; i < sent; i++)
        {
            Assert.Equal(i, psProbe.ExpectMsg<GradientShard>(Timeout).Iteration);
            server.Consumed(workerRef);
        }
        psProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task A_wrong_token_or_another_run_is_refused_and_nothing_is_delivered()
    {
        var psProbe = CreateTestProbe("ps");
        var workerRef = CreateTestProbe("worker-actor");
        using var server = StartServer(psProbe);
        var offer = server.Offer(workerRef);
        var forged = offer with { Token = Convert.ToBase64String(new byte[TensorLinkFrame.TokenBytes]) };
        var otherRun = offer with { RunId = "run-2" };

        foreach (var bad in new[] { forged, otherRun })
        {
            var closed = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var client = await TensorLinkClient.ConnectAsync(bad, CreateTestProbe(), psProbe, MaxBody, r => closed.TrySetResult(r), Timeout);
            client.TrySend(Shard(1));
            await closed.Task.WaitAsync(Timeout); // the server hangs up
        }
        psProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(0, server.ConnectedCount);
        Assert.False(server.TrySend(workerRef, TensorLinkFrame.WeightsUpdatedKind, [1, 2, 3]));
    }

    [Fact]
    public async Task Garbage_and_oversized_frames_close_only_that_connection()
    {
        var psProbe = CreateTestProbe("ps");
        using var server = StartServer(psProbe, maxBody: 1 << 20);

        // Raw garbage instead of a hello.
        using (var raw = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await raw.ConnectAsync("127.0.0.1", server.Port);
            await raw.SendAsync(new byte[] { 0xde, 0xad, 0xbe, 0xef, 0x00, 1, 2, 3, 4, 5 });
            var buffer = new byte[16];
            Assert.Equal(0, await raw.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Timeout)); // closed by the server
        }

        // An authenticated peer that declares a 2 GB frame: refused by the length check, not allocated.
        var workerRef = CreateTestProbe("worker-actor");
        var offer = server.Offer(workerRef);
        using (var raw = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await raw.ConnectAsync("127.0.0.1", server.Port);
            byte[] hello = TensorLinkFrame.EncodeHello("run-1", Convert.FromBase64String(offer.Token));
            var header = new byte[TensorLinkFrame.HeaderBytes];
            TensorLinkFrame.WriteHeader(header, TensorLinkFrame.HelloKind, hello.Length);
            await raw.SendAsync(header);
            await raw.SendAsync(hello);
            TensorLinkFrame.WriteHeader(header, TensorLinkFrame.GradientShardKind, int.MaxValue);
            await raw.SendAsync(header);
            Assert.Equal(0, await raw.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Timeout));
        }

        // The listener still serves a well-behaved worker.
        var good = server.Offer(workerRef);
        using var client = await TensorLinkClient.ConnectAsync(good, CreateTestProbe(), psProbe, MaxBody, _ => { }, Timeout);
        Assert.True(client.TrySend(Shard(3, parameters: 1000)));
        Assert.Equal(3, psProbe.ExpectMsg<GradientShard>(Timeout).Iteration);
    }

    [Fact]
    public async Task Forgetting_a_worker_closes_its_link_and_the_client_learns_of_it()
    {
        var psProbe = CreateTestProbe("ps");
        var workerRef = CreateTestProbe("worker-actor");
        using var server = StartServer(psProbe);
        var closed = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var client = await TensorLinkClient.ConnectAsync(server.Offer(workerRef), CreateTestProbe(), psProbe, MaxBody, r => closed.TrySetResult(r), Timeout);
        AwaitCondition(() => server.ConnectedCount == 1, Timeout);

        server.Forget(workerRef);
        await closed.Task.WaitAsync(Timeout);
        Assert.False(client.IsOpen);
        Assert.False(client.TrySend(Shard(1)));
    }

    [Fact]
    public void A_taken_port_is_reported_as_a_socket_error()
    {
        using var first = StartServer(CreateTestProbe());
        Assert.Throws<SocketException>(() =>
            TensorLinkServer.Start("127.0.0.1", first.Port, "127.0.0.1", "run-1", CreateTestProbe(), Logging.GetLogger(Sys, "link"), MaxBody));
    }
}
