using System.Diagnostics;
using System.Text.Json;
using Distributed.Engine.Checkpoints;

namespace Distributed.Coordinator.Tests.Hosting;

/// <summary>Training across real worker processes on loopback, and the worker executable's own errors.</summary>
[Collection(RealProcessCollection.Name)]
public sealed class RealProcessTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "cluster-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_out)) Directory.Delete(_out, recursive: true);
    }

    private static IEnumerable<int> ProcessesMentioning(string text) =>
        Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!)
            .Where(pid =>
            {
                try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains(text, StringComparison.Ordinal); }
                catch (IOException) { return false; }
                catch (UnauthorizedAccessException) { return false; }
            });

    [Fact]
    public void Train_with_two_worker_processes_writes_metrics_and_a_checkpoint_and_leaves_no_process_behind()
    {
        var (exit, output, error) = CliRunner.Run("train", "--workers", "2", "--model", "seed-simple", "--epochs", "1", "--batch", "64",
            "--lr", "0.05", "--momentum", "0.9", "--data-dir", CliRunner.SliceDirectory, "--out", _out, "--worker-timeout", "60");
        Assert.True(exit == 0, error + output);
        Assert.Matches(@"(?m)^test: loss=\d+\.\d+ top1=0\.\d+ top5=[01]\.\d+$", output);
        Assert.Contains("workers: 2", output);

        var rows = File.ReadAllLines(Path.Combine(_out, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var epoch = Assert.Single(rows, r => r.GetProperty("kind").GetString() == "epoch");
        Assert.Equal(1800, epoch.GetProperty("samples").GetInt32());
        Assert.Equal(2, epoch.GetProperty("workers").GetInt32());
        Assert.Equal(2, rows.Count(r => r.GetProperty("kind").GetString() == "event" && r.GetProperty("event").GetString() == "worker_joined"));
        Assert.Equal(1, Checkpoint.Load(Path.Combine(_out, "checkpoints", "final.ckpt")).Header.Epoch);
        Assert.True(File.Exists(Path.Combine(_out, "logs", "worker-worker-1.log")));
        Runs.ReportAssertions.HasPicturesAndReport(_out);

        // The workers were started with --log-dir inside this run's folder: none may survive the run.
        SpinWait.SpinUntil(() => !ProcessesMentioning(_out).Any(), TimeSpan.FromSeconds(10));
        Assert.Empty(ProcessesMentioning(_out));
    }

    [Fact]
    public async Task A_worker_process_killed_mid_epoch_costs_no_sample_and_the_run_finishes_on_the_others()
    {
        var run = Task.Run(() => CliRunner.Run("train", "--workers", "3", "--model", "keras-mnist-cnn", "--epochs", "3", "--batch", "64",
            "--lr", "0.05", "--momentum", "0.9", "--data-dir", CliRunner.SliceDirectory, "--out", _out, "--worker-timeout", "60"));
        string metrics = Path.Combine(_out, "metrics.jsonl");
        bool EpochDone() => File.Exists(metrics) && File.ReadAllLines(metrics).Any(l => l.Contains("\"kind\": \"epoch\"", StringComparison.Ordinal)
            || l.Contains("\"kind\":\"epoch\"", StringComparison.Ordinal));
        Assert.True(SpinWait.SpinUntil(() => EpochDone() || run.IsCompleted, TimeSpan.FromSeconds(180)), "no epoch ended");
        Assert.False(run.IsCompleted, "the run ended before a worker could be killed");
        // Well into the second epoch (29 iterations each: the parameter server's first 50-iteration profile is
        // logged in it), SIGKILL the worker's own process (no launcher in front of it).
        string log = Path.Combine(_out, "logs", "coordinator.log");
        bool MidSecondEpoch()
        {
            using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return reader.ReadToEnd().Contains("per iteration over 50", StringComparison.Ordinal);
        }
        Assert.True(SpinWait.SpinUntil(() => MidSecondEpoch() || run.IsCompleted, TimeSpan.FromSeconds(120)), "iteration 50 was never reached");
        Assert.False(run.IsCompleted, "the run ended before a worker could be killed");
        int victim = Assert.Single(ProcessesMentioning(_out), pid => File.ReadAllText($"/proc/{pid}/cmdline").Split('\0').Contains("worker-2"));
        Process.GetProcessById(victim).Kill();

        var (exit, output, error) = await run;
        Assert.True(exit == 0, error + output);
        var rows = File.ReadAllLines(metrics).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var epochs = rows.Where(r => r.GetProperty("kind").GetString() == "epoch").ToList();
        Assert.Equal(3, epochs.Count);
        Assert.All(epochs, e => Assert.Equal(1800, e.GetProperty("samples").GetInt32()));
        var events = rows.Where(r => r.GetProperty("kind").GetString() == "event")
            .Select(r => (Event: r.GetProperty("event").GetString(), Detail: r.GetProperty("detail").GetString() ?? "")).ToList();
        // Noticed by its shard's time-out or by the cluster removing the node, whichever came first; its
        // requests (there is always one, sent an iteration ahead) went to the other workers.
        Assert.Contains(events, e => (e.Event == "worker_left" && e.Detail == "worker-2") || (e.Event == "shard_timed_out" && e.Detail.Contains("on worker-2:", StringComparison.Ordinal)));
        Assert.Contains(events, e => e.Event == "shard_reassigned");
        Assert.Matches(@"(?m)^test: loss=\d+\.\d+ top1=0\.\d+ top5=[01]\.\d+$", output);
        SpinWait.SpinUntil(() => !ProcessesMentioning(_out).Any(), TimeSpan.FromSeconds(10));
        Assert.Empty(ProcessesMentioning(_out));
    }

    [Fact]
    public void A_run_whose_coordinator_is_killed_resumes_from_its_newest_checkpoint_to_the_same_final_weights()
    {
        string[] Args(string dir) => ["train", "--workers", "2", "--model", "seed-simple", "--epochs", "3", "--batch", "32", "--lr", "0.05",
            "--momentum", "0.9", "--data-dir", CliRunner.SliceDirectory, "--out", dir, "--checkpoint-every", "7", "--worker-timeout", "60"];
        string uninterrupted = Path.Combine(_out, "uninterrupted"), killed = Path.Combine(_out, "killed");
        var (exit, output, error) = CliRunner.Run(Args(uninterrupted));
        Assert.True(exit == 0, error + output);

        // The coordinator as its own process, SIGKILLed once it wrote a periodic checkpoint past the first epoch.
        using (var coordinator = new NodeProcess("Distributed.Coordinator.dll", Args(killed)))
        {
            string checkpoints = Path.Combine(killed, "checkpoints");
            // No wait for epoch 1's metrics row: the coordinator has it written before any checkpoint that follows.
            bool Ready() => Directory.Exists(checkpoints) && Directory.GetFiles(checkpoints, "iter-*.ckpt").Any(f => string.CompareOrdinal(Path.GetFileName(f), "iter-000000063.ckpt") >= 0);
            Assert.True(SpinWait.SpinUntil(() => Ready() || coordinator.HasExited, TimeSpan.FromSeconds(120)), "no periodic checkpoint was written");
            Assert.False(coordinator.HasExited, "the run finished before it could be killed");
            coordinator.Kill();
        }
        foreach (int pid in ProcessesMentioning(killed)) Process.GetProcessById(pid).Kill(); // its orphaned workers
        Assert.False(File.Exists(Path.Combine(killed, "checkpoints", "final.ckpt")));

        var (resumedExit, resumedOutput, resumedError) = CliRunner.Run("train", "--resume", killed);
        Assert.True(resumedExit == 0, resumedError + resumedOutput);
        Assert.Matches(@"resuming from .*iter-\d{9}\.ckpt \(iteration \d+\)", resumedOutput);

        RunAssertions.SameFinalWeights(uninterrupted, killed, "resumed");
        // Epoch 1 from the killed process, 2 (cut at iteration 63 or later) and 3 from the resumed one: nothing ran twice,
        // and each epoch's row counts every sample, the one that was cut included.
        RunAssertions.EveryEpochOnceWithAllSamples(killed, 3, 1800);
        var (again, _, againError) = CliRunner.Run("train", "--resume", killed);
        Assert.NotEqual(0, again);
        Assert.Contains("the run finished", againError);
    }

    private static (int Exit, string Error) RunWorker(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Distributed.Worker.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "the worker did not exit");
        return (p.ExitCode, stderr.Result);
    }

    [Fact]
    public void A_worker_that_cannot_reach_its_seed_node_exits_non_zero_after_the_join_timeout()
    {
        var (exit, error) = RunWorker("--seed-node", "akka.tcp://distributed@127.0.0.1:9", "--insecure", "--join-timeout", "3", "--data-dir", CliRunner.SliceDirectory);
        Assert.Equal(1, exit);
        Assert.Contains("could not join the cluster within 3 s", error);
    }

    [Theory]
    [InlineData("--threads", "0", "--threads")]
    [InlineData("--seed-node", "tcp://host:1", "--seed-node")]
    [InlineData("--join-timeout", "x", "--join-timeout")]
    [InlineData("--throttel", "2", "--throttle")]
    public void Invalid_worker_flags_exit_with_code_2_and_name_the_option(string option, string value, string named)
    {
        var args = option == "--seed-node" ? new[] { option, value, "--insecure" } : ["--seed-node", "akka.tcp://distributed@127.0.0.1:9", "--insecure", option, value];
        var (exit, error) = RunWorker(args);
        Assert.Equal(2, exit);
        Assert.Contains(named, error);
    }

    [Theory]
    [InlineData("--tls-dir", "/nonexistent", "--insecure", "--tls-dir and --insecure exclude each other")]
    [InlineData("--seed-node", "127.0.0.1:9", "--join-timeout", "a worker talks to other nodes over mutual TLS: pass --tls-dir DIR")]
    [InlineData("--seed-node", "127.0.0.1:9", "--tls-dir", "ca.crt is missing; create the files with 'certs init")]
    public void A_worker_needs_tls_or_an_explicit_insecure_and_says_how_to_get_certificates(string o1, string v1, string o2, string named)
    {
        string[] args = o2 == "--tls-dir" ? [o1, v1, o2, "/nonexistent-tls-dir"] : o2 == "--join-timeout" ? [o1, v1, o2, "3"] : [o1, v1, o2];
        var (exit, error) = RunWorker(args);
        Assert.Equal(2, exit);
        Assert.Contains(named, error);
    }

    [Theory]
    [InlineData("--workers", "3", "--batch", "2", "--batch 2 is smaller than the 3 workers")]
    [InlineData("--workers", "2", "--seed-node", "tcp://localhost:4053", "--seed-node")]
    [InlineData("--workers", "0", "--min-workers", "1", "waits for workers from other machines, so it needs mutual TLS: --tls-dir DIR")]
    [InlineData("--workers", "2", "--host", "0.0.0.0", "listens on 0.0.0.0, so it needs mutual TLS")]
    [InlineData("--workers", "-1", "--epochs", "1", "--workers")]
    [InlineData("--workers", "2", "--single-process", "", "--single-process")]
    [InlineData("--workers", "0", "--tensor-port", "4053", "--tensor-port 4053 is the Akka.Remote --port")]
    [InlineData("--workers", "2", "--tensor-port", "70000", "--tensor-port")]
    public void Invalid_cluster_flags_exit_with_code_2_before_anything_starts(string o1, string v1, string o2, string v2, string named)
    {
        var args = new List<string> { "train", o1, v1, o2 };
        if (v2.Length > 0) args.Add(v2);
        args.AddRange(["--data-dir", CliRunner.SliceDirectory]);
        var (exit, _, error) = CliRunner.Run([.. args]);
        Assert.Equal(2, exit);
        Assert.Contains(named, error);
    }
}

/// <summary>Real-process tests run alone: they start several .NET processes on this 2-core machine.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RealProcessCollection
{
    public const string Name = "real-processes";
}
