using System.Collections.Concurrent;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Xunit.Abstractions;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>
/// A training node's remoting port under attack while it trains (no TLS here, the worst case: with TLS none of
/// this gets past the handshake): garbage bytes, a huge length prefix, and well-formed Akka messages of types the
/// node does not know, sent by an actor system with an unrestricted serializer.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    /// <summary>A type no node of ours can deserialize (it is not a protocol message).</summary>
    public sealed record ForeignCommand(string Command);

    [Fact]
    public async Task Garbage_bytes_and_foreign_messages_on_the_remoting_port_are_logged_and_training_reaches_the_undisturbed_weights()
    {
        var plan = TestPlans.Plan("seed-simple", trainCount: 512, batch: 32, microShard: 8);
        float[] undisturbed;
        using (var reference = InProcessCluster.Start(plan, [1.0, 1.0]))
        {
            await reference.WaitAsync(TimeSpan.FromSeconds(120));
            undisturbed = (await reference.WeightsAsync()).Weights;
        }
        using var cluster = InProcessCluster.Start(plan with { RunId = plan.RunId + "-attacked" }, [1.0, 1.0]);
        var logged = new ConcurrentQueue<string>();
        var collector = cluster.CoordinatorSystem.ActorOf(Props.Create(() => new LogCollector(logged)), "hostile-log");
        cluster.CoordinatorSystem.EventStream.Subscribe(collector, typeof(Akka.Event.Warning));
        cluster.CoordinatorSystem.EventStream.Subscribe(collector, typeof(Akka.Event.Error));
        int port = Akka.Cluster.Cluster.Get(cluster.CoordinatorSystem).SelfAddress.Port!.Value;

        // An actor system that binds everything to stock, unrestricted Hyperion: the messages are valid Akka envelopes.
        using var intruder = ActorSystem.Create("distributed", ConfigurationFactory.ParseString("""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            akka.actor.serializers.hyperion = "Akka.Serialization.HyperionSerializer, Akka.Serialization.Hyperion"
            akka.actor.serialization-bindings { "System.Object" = hyperion }
            akka.loglevel = ERROR
            """));
        int rounds = 0;
        while (!cluster.Completion.IsCompleted && rounds < 20)
        {
            rounds++;
            await SendGarbageAsync(port, rounds);
            foreach (string path in new[] { "/user/coordinator/singleton", "/user/parameter-server/singleton", "/user/coordinator" })
            {
                var target = intruder.ActorSelection($"{cluster.SeedAddress}{path}");
                target.Tell(new ForeignCommand("stop training"));
                target.Tell(new FileInfo("/etc/passwd"));
                target.Tell(new Dictionary<string, object> { ["nested"] = new List<object> { new ForeignCommand("x"), 1.5 } });
            }
            await Task.Delay(150);
        }
        await cluster.WaitAsync(TimeSpan.FromSeconds(120));
        foreach (string line in logged.Take(12)) output.WriteLine(line);
        output.WriteLine($"{rounds} rounds of garbage and foreign messages; {logged.Count} warnings and errors logged");

        Assert.True(rounds >= 2, "training ended before the node could be attacked twice");
        Assert.Equal(512, Assert.Single(cluster.Epochs).Metrics.Samples);
        // The run is deterministic for any worker count and timing: anything that got through would show in the bits.
        Assert.Equal(undisturbed, (await cluster.WeightsAsync()).Weights);
        Assert.Contains(logged, l => l.Contains("ForeignCommand", StringComparison.Ordinal) || l.Contains("FileInfo", StringComparison.Ordinal));
    }

    // Three kinds of nonsense on fresh connections: random bytes, a frame that claims 2 GB, and a well-framed random payload.
    private static async Task SendGarbageAsync(int port, int seed)
    {
        var random = new Random(seed);
        byte[] noise = new byte[16 * 1024];
        random.NextBytes(noise);
        byte[] huge = [0x7F, 0xFF, 0xFF, 0xF0, .. noise.AsSpan(0, 64)];
        byte[] framed = [0, 0, 0, 100, .. noise.AsSpan(0, 100)];
        foreach (byte[] payload in new[] { noise, huge, framed })
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync("127.0.0.1", port);
                await client.GetStream().WriteAsync(payload);
                await Task.Delay(20);
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // The node closed the connection on us: that is the point.
            }
        }
    }

    private sealed class LogCollector : ReceiveActor
    {
        public LogCollector(ConcurrentQueue<string> lines) => ReceiveAny(e => lines.Enqueue(e.ToString() ?? ""));
    }
}
