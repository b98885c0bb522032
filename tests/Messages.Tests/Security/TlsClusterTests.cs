using Akka.Actor;
using Distributed.Messages.Hosting;
using Distributed.Messages.Security;

namespace Distributed.Messages.Tests.Security;

/// <summary>Who can join a TLS cluster and deliver messages to it (in-process actor systems on loopback).</summary>
public sealed class TlsClusterTests : IDisposable
{
    private static readonly TimeSpan JoinWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RefusalWait = TimeSpan.FromSeconds(12);

    private readonly string _root = Directory.CreateTempSubdirectory("tls-cluster-").FullName;
    private readonly List<ActorSystem> _systems = [];

    [Fact]
    public async Task Only_a_node_with_a_certificate_from_the_cluster_CA_joins_and_delivers()
    {
        string ours = Path.Combine(_root, "ours"), theirs = Path.Combine(_root, "theirs");
        CertificateAuthority.Init(ours, ["127.0.0.1", "localhost"]);
        CertificateAuthority.Init(theirs, ["127.0.0.1"]);

        var seed = Start(ClusterOptions.CoordinatorRole, [], NodeTls.Load(Path.Combine(ours, "127.0.0.1")));
        var seedCluster = Akka.Cluster.Cluster.Get(seed);
        seedCluster.Join(seedCluster.SelfAddress);
        var inbox = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        seed.ActorOf(Props.Create(() => new Inbox(inbox)), "inbox");
        string seedAddress = seedCluster.SelfAddress.ToString();
        Assert.StartsWith("akka.ssl.tcp://", seedAddress);

        // Another CA: the handshake fails both ways, the node never becomes a member and its message is lost.
        var stranger = Start(ClusterOptions.WorkerRole, [seedAddress], NodeTls.Load(Path.Combine(theirs, "127.0.0.1")));
        stranger.ActorSelection(seedAddress + "/user/inbox").Tell("from another CA");
        // No TLS at all: it cannot even speak to the TLS port.
        var plain = Start(ClusterOptions.WorkerRole, [ClusterAddress.Normalize(seedAddress, tls: false)], tls: null);
        plain.ActorSelection(ClusterAddress.Normalize(seedAddress, tls: false) + "/user/inbox").Tell("without TLS");
        await Task.Delay(RefusalWait);
        Assert.False(inbox.Task.IsCompleted, "a refused node delivered a message");
        Assert.Single(seedCluster.State.Members);
        Assert.DoesNotContain(Akka.Cluster.Cluster.Get(stranger).State.Members, m => m.Status == Akka.Cluster.MemberStatus.Up);
        Assert.DoesNotContain(Akka.Cluster.Cluster.Get(plain).State.Members, m => m.Status == Akka.Cluster.MemberStatus.Up);

        // A certificate from our CA (its own key pair, issued for localhost, which also names the loopback addresses).
        var member = Start(ClusterOptions.WorkerRole, [seedAddress], NodeTls.Load(Path.Combine(ours, "localhost")));
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(member).RegisterOnMemberUp(() => up.TrySetResult());
        await up.Task.WaitAsync(JoinWait);
        member.ActorSelection(seedAddress + "/user/inbox").Tell("from our CA");
        Assert.Equal("from our CA", await inbox.Task.WaitAsync(JoinWait));
        Assert.Equal(2, seedCluster.State.Members.Count);
    }

    [Fact]
    public async Task A_node_is_refused_by_the_nodes_that_dial_it_when_its_certificate_does_not_name_the_address_they_dial()
    {
        string ca = Path.Combine(_root, "ca");
        CertificateAuthority.Init(ca, ["10.9.9.9", "localhost"]);
        // Same CA, but the seed listens on 127.0.0.1 with a certificate for 10.9.9.9 only.
        var seed = Start(ClusterOptions.CoordinatorRole, [], NodeTls.Load(Path.Combine(ca, "10.9.9.9")));
        var seedCluster = Akka.Cluster.Cluster.Get(seed);
        seedCluster.Join(seedCluster.SelfAddress);
        var member = Start(ClusterOptions.WorkerRole, [seedCluster.SelfAddress.ToString()], NodeTls.Load(Path.Combine(ca, "localhost")));
        await Task.Delay(RefusalWait);
        Assert.Single(seedCluster.State.Members);
        Assert.DoesNotContain(Akka.Cluster.Cluster.Get(member).State.Members, m => m.Status == Akka.Cluster.MemberStatus.Up);
    }

    private ActorSystem Start(string role, IReadOnlyList<string> seeds, NodeTls? tls)
    {
        var system = ClusterSetup.Start(new ClusterOptions(role, "127.0.0.1", 0, null, seeds, TensorLink: false, Tls: tls));
        _systems.Add(system);
        return system;
    }

    private sealed class Inbox : ReceiveActor
    {
        public Inbox(TaskCompletionSource<string> received) => Receive<string>(s => received.TrySetResult(s));
    }

    public void Dispose()
    {
        Task.WaitAll([.. _systems.Select(s => s.Terminate())], TimeSpan.FromSeconds(20));
        Directory.Delete(_root, recursive: true);
    }
}
