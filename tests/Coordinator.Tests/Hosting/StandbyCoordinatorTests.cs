namespace Distributed.Coordinator.Tests.Hosting;

/// <summary>
/// Coordinator fail-over with real processes: a first coordinator node, two standby nodes (<c>train --standby</c>;
/// the split brain resolver keeps the side with most coordinator nodes) and two external workers; the first node
/// is SIGKILLed mid-run and the older standby finishes the run.
/// </summary>
[Collection(RealProcessCollection.Name)]
public sealed class StandbyCoordinatorTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "standby-tests-" + Guid.NewGuid().ToString("N"));
    private readonly List<NodeProcess> _nodes = [];

    public void Dispose()
    {
        foreach (var node in _nodes) node.Dispose();
        if (Directory.Exists(_out)) Directory.Delete(_out, recursive: true);
    }

    private static readonly string[] Recipe = ["--model", "seed-simple", "--epochs", "3", "--batch", "32", "--lr", "0.05", "--momentum", "0.9",
        "--data-dir", CliRunner.SliceDirectory, "--checkpoint-every", "7"];

    [Fact]
    public void A_standby_takes_over_when_the_coordinator_node_is_killed_and_ends_with_the_weights_of_an_uninterrupted_run()
    {
        string uninterrupted = Path.Combine(_out, "uninterrupted"), shared = Path.Combine(_out, "shared");
        var (exit, output, error) = CliRunner.Run(["train", "--workers", "2", .. Recipe, "--out", uninterrupted, "--worker-timeout", "60"]);
        Assert.True(exit == 0, error + output);

        // Every node of this run talks mutual TLS, the tensor links included, with certificates from 'certs init'.
        string certs = Path.Combine(_out, "certs");
        Assert.Equal(0, CliRunner.Run("certs", "init", "--out", certs, "--hosts", "127.0.0.1").Exit);
        string tls = Path.Combine(certs, "127.0.0.1");
        int port = NodeProcess.FreePort();
        string seed = $"akka.ssl.tcp://distributed@127.0.0.1:{port}";
        var first = Start("Distributed.Coordinator.dll", ["train", "--workers", "0", "--min-workers", "2", "--port", $"{port}", "--tensor-port", $"{NodeProcess.FreePort()}",
            "--tls-dir", tls, .. Recipe, "--out", shared, "--worker-timeout", "120"]);
        Assert.True(SpinWait.SpinUntil(() => File.Exists(Path.Combine(shared, "command.json")) || first.HasExited, TimeSpan.FromSeconds(60)), "the first node did not start");
        // One after the other: the older standby takes over.
        var standbys = new List<NodeProcess>();
        for (int i = 0; i < 2; i++)
        {
            var node = Start("Distributed.Coordinator.dll", ["train", "--standby", shared, "--seed-node", seed, "--port", $"{NodeProcess.FreePort()}", "--tensor-port", $"{NodeProcess.FreePort()}",
                "--tls-dir", tls]);
            Assert.True(SpinWait.SpinUntil(() => node.Output.Contains("is up in the cluster") || node.HasExited, TimeSpan.FromSeconds(60)), "a standby did not join: " + node.Output);
            standbys.Add(node);
        }
        var (standby, other) = (standbys[0], standbys[1]);
        var workers = new[] { "w1", "w2" }.Select(id => Start("Distributed.Worker.dll", ["--seed-node", seed, "--tls-dir", tls, "--worker-id", id, "--data-dir", CliRunner.SliceDirectory,
            "--join-timeout", "90", "--log-dir", Path.Combine(shared, "logs")])).ToList();

        // Killed once it has checkpointed in the second epoch (57 iterations each).
        string checkpoints = Path.Combine(shared, "checkpoints");
        // No wait for epoch 1's metrics row: the coordinator has it written before any checkpoint that follows.
        bool Ready() => Directory.Exists(checkpoints) && Directory.GetFiles(checkpoints, "iter-*.ckpt").Any(f => string.CompareOrdinal(Path.GetFileName(f), "iter-000000063.ckpt") >= 0);
        Assert.True(SpinWait.SpinUntil(() => Ready() || first.HasExited, TimeSpan.FromSeconds(120)), "no periodic checkpoint was written");
        Assert.False(first.HasExited, "the run finished before its coordinator node could be killed: " + first.Output);
        first.Kill();

        Assert.True(standby.WaitForExit(TimeSpan.FromSeconds(180)), "the standby did not finish the run: " + standby.Output);
        Assert.True(standby.ExitCode == 0, standby.Output);
        Assert.Matches(@"took over the coordinator, continuing from .*iter-\d{9}\.ckpt at iteration \d+", standby.Output);
        Assert.Matches(@"(?m)^test: loss=\d+\.\d+ top1=0\.\d+ top5=[01]\.\d+$", standby.Output);
        // The younger standby stops once the run has finished.
        Assert.True(other.WaitForExit(TimeSpan.FromSeconds(30)) && other.ExitCode == 0, other.Output);
        Assert.Contains("the run finished on another coordinator node", other.Output);
        // The same worker processes finished the run.
        Assert.All(workers, w => Assert.True(w.WaitForExit(TimeSpan.FromSeconds(30)) && w.ExitCode == 0, w.Output));

        RunAssertions.SameFinalWeights(uninterrupted, shared, "after the take-over");
        // Epoch 1 reported by the first node, the cut epoch 2 and epoch 3 by the standby: each counts every sample once.
        RunAssertions.EveryEpochOnceWithAllSamples(shared, 3, 1800);
    }

    [Fact]
    public void A_standby_without_a_seed_node_or_with_its_own_training_flags_is_a_usage_error()
    {
        var (exit, _, error) = CliRunner.Run("train", "--standby", _out);
        Assert.Equal(2, exit);
        Assert.Contains("--seed-node", error);
        (exit, _, error) = CliRunner.Run("train", "--standby", _out, "--seed-node", "akka.tcp://distributed@127.0.0.1:9", "--epochs", "3");
        Assert.Equal(2, exit);
        Assert.Contains("drop --epochs", error);
    }

    private NodeProcess Start(string assembly, string[] args)
    {
        var node = new NodeProcess(assembly, args);
        _nodes.Add(node);
        return node;
    }
}
