using System.Text.Json;

namespace Distributed.Coordinator.Tests.Hosting;

/// <summary>Mutual TLS between real processes: a coordinator node waiting for external workers, and workers with and without the right certificates.</summary>
[Collection(RealProcessCollection.Name)]
public sealed class TlsProcessTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "tls-tests-" + Guid.NewGuid().ToString("N"));
    private readonly List<NodeProcess> _nodes = [];

    public void Dispose()
    {
        foreach (var node in _nodes) node.Dispose();
        if (Directory.Exists(_out)) Directory.Delete(_out, recursive: true);
    }

    [Fact]
    public void Workers_with_another_CA_or_without_TLS_are_refused_and_exit_non_zero_while_training_goes_on_with_a_valid_one()
    {
        string ours = Path.Combine(_out, "ours"), theirs = Path.Combine(_out, "theirs"), run = Path.Combine(_out, "run");
        Assert.Equal(0, CliRunner.Run("certs", "init", "--out", ours, "--hosts", "127.0.0.1").Exit);
        Assert.Equal(0, CliRunner.Run("certs", "init", "--out", theirs, "--hosts", "127.0.0.1").Exit);
        int port = NodeProcess.FreePort();
        var coordinator = Start("Distributed.Coordinator.dll", ["train", "--workers", "0", "--min-workers", "1", "--port", $"{port}", "--tensor-port", $"{NodeProcess.FreePort()}",
            "--tls-dir", Path.Combine(ours, "127.0.0.1"), "--model", "seed-simple", "--epochs", "2", "--batch", "64", "--data-dir", CliRunner.SliceDirectory,
            "--out", run, "--worker-timeout", "120"]);
        Assert.True(SpinWait.SpinUntil(() => coordinator.Output.Contains("waiting for 1 workers") || coordinator.HasExited, TimeSpan.FromSeconds(60)), coordinator.Output);

        var stranger = Worker("stranger", "--tls-dir", Path.Combine(theirs, "127.0.0.1"));
        Assert.True(stranger.WaitForExit(TimeSpan.FromSeconds(60)), "the worker with another CA's certificate did not exit");
        Assert.Equal(1, stranger.ExitCode);
        // Which side refuses first is a race inside the handshake (and the node may stop before its log is read):
        // whichever it was, the worker's last word names TLS and the certificates.
        string last = stranger.Output.Split('\n').Last(l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains("TLS", last);
        Assert.Contains("certificate", last);

        var plain = Worker("plain", "--insecure");
        Assert.True(plain.WaitForExit(TimeSpan.FromSeconds(60)), "the worker without TLS did not exit");
        Assert.Equal(1, plain.ExitCode);
        Assert.Contains("could not join the cluster within 10 s", plain.Output);

        var member = Worker("member", "--tls-dir", Path.Combine(ours, "127.0.0.1"));
        Assert.True(coordinator.WaitForExit(TimeSpan.FromSeconds(120)), "the run did not finish: " + coordinator.Output);
        Assert.True(coordinator.ExitCode == 0, coordinator.Output);
        Assert.Matches(@"(?m)^test: loss=\d+\.\d+ top1=0\.\d+ top5=[01]\.\d+$", coordinator.Output);
        Assert.True(member.WaitForExit(TimeSpan.FromSeconds(30)) && member.ExitCode == 0, member.Output);
        var joined = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.GetProperty("kind").GetString() == "event" && r.GetProperty("event").GetString() == "worker_joined").ToList();
        Assert.Single(joined);
        string log = string.Join("\n", Directory.GetFiles(Path.Combine(run, "logs")).Select(File.ReadAllText));
        Assert.Contains("TLS: refused", log);
        // The tensor link went through TLS too (it is offered only over the authenticated Akka.Remote association).
        Assert.Contains("Tensor link: worker akka.ssl.tcp://", log);

        NodeProcess Worker(string id, params string[] security) => Start("Distributed.Worker.dll",
            ["--seed-node", $"127.0.0.1:{port}", .. security, "--worker-id", id, "--join-timeout", "10", "--data-dir", CliRunner.SliceDirectory]);
    }

    private NodeProcess Start(string assembly, string[] args)
    {
        var node = new NodeProcess(assembly, args);
        _nodes.Add(node);
        return node;
    }
}
