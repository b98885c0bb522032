using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Commands;

/// <summary>
/// The cluster options of <c>train</c>: how many local worker processes to start, or how many
/// external ones to wait for, where this node listens and which cluster it joins.
/// </summary>
public sealed record ClusterArguments(
    bool Requested,
    int Workers,
    int MinWorkers,
    int MaxWorkers,
    string Host,
    int Port,
    string? PublicHostname,
    string? SeedNode,
    int ThreadsPerWorker,
    int MicroShard,
    int WorkerTimeoutSeconds,
    bool TensorLink,
    int TensorPort,
    int ShardTimeoutSeconds,
    int MinLiveWorkers,
    string? TlsDirectory = null,
    bool Insecure = false)
{
    /// <summary>Option names.</summary>
    public static readonly string[] Names =
    [
        "--workers", "--min-workers", "--max-workers", "--host", "--port", "--public-hostname", "--seed-node",
        "--threads-per-worker", "--micro-shard", "--worker-timeout", "--tensor-port", "--no-tensor-link", "--shard-timeout",
        "--tls-dir", "--insecure",
    ];

    /// <summary>Whether this node must run TLS unless told <c>--insecure</c>: it listens for, or dials, other machines.</summary>
    public bool ReachesOtherMachines => Workers == 0 || SeedNode is not null || !ClusterAddress.IsLoopback(Host);

    /// <summary>Reads and validates the options against the global batch size.</summary>
    public static ClusterArguments Read(ArgumentReader r, int batch)
    {
        bool requested = Names.Any(r.Has);
        int workers = r.Int("--workers", 0, 0, 64);
        int minWorkers = r.Int("--min-workers", Math.Max(workers, 1), 1, 1024);
        int maxWorkers = r.Int("--max-workers", Math.Max(64, minWorkers), 1, 1024);
        if (maxWorkers < minWorkers) throw new UsageException($"--max-workers ({maxWorkers}) must be ≥ --min-workers ({minWorkers})");
        string host = r.String("--host", "127.0.0.1")!;
        int port = r.Int("--port", workers > 0 ? 0 : 4053, 0, 65535);
        string? publicHost = r.String("--public-hostname");
        string? tlsDir = r.String("--tls-dir");
        bool insecure = r.Flag("--insecure");
        Messages.Security.NodeSecurity.RequireOneChoice(tlsDir, insecure);
        string? seed = r.String("--seed-node");
        if (seed is not null) seed = ClusterAddress.Normalize(seed, tls: tlsDir is not null);
        int threads = r.Int("--threads-per-worker", 1, 1, 256);
        int microDefault = Math.Min(batch, Math.Max(16, (batch + 127) / 128));
        int micro = r.Int("--micro-shard", microDefault, 1, 65_536);
        if ((batch + micro - 1) / micro > Engine.Training.FixedPointGradient.MaxMicroShards)
            throw new UsageException($"--micro-shard {micro} splits a batch of {batch} into more than {Engine.Training.FixedPointGradient.MaxMicroShards} pieces; use at least {(batch + 127) / 128}");
        int needed = Math.Max(workers, minWorkers);
        if (requested && batch < needed)
            throw new UsageException($"--batch {batch} is smaller than the {needed} workers: every worker needs at least one sample per iteration; raise --batch or lower --workers/--min-workers");
        int timeout = r.Int("--worker-timeout", 120, 1, 86_400);
        bool link = !r.Flag("--no-tensor-link");
        // Local workers: any free port. External workers: a fixed, predictable port to open in a firewall.
        int tensorPort = r.Int("--tensor-port", workers > 0 || port == 0 ? 0 : Math.Min(port + 100, 65535), 0, 65535);
        if (tensorPort != 0 && tensorPort == port)
            throw new UsageException($"--tensor-port {tensorPort} is the Akka.Remote --port; pick another port (default --port + 100)");
        int shardTimeout = r.Int("--shard-timeout", 30, 1, 86_400);
        // Given explicitly, --min-workers also keeps the run paused while fewer are alive; by default the
        // run waits for all its local workers to start and then goes on as long as one is left.
        int minLive = r.Has("--min-workers") ? minWorkers : 1;
        var arguments = new ClusterArguments(requested, workers, minWorkers, maxWorkers, host, port, publicHost, seed, threads, micro, timeout, link,
            tensorPort, shardTimeout, minLive, tlsDir, insecure);
        if (requested && arguments.ReachesOtherMachines && tlsDir is null && !insecure)
            throw new UsageException(
                $"this node {(workers == 0 ? "waits for workers from other machines" : seed is not null ? "joins another node" : $"listens on {host}")}, so it needs mutual TLS: " +
                "--tls-dir DIR with the files of 'certs init --out CERTS --hosts HOST,...' (DIR = CERTS/HOST), or --insecure for a loopback experiment");
        return arguments;
    }
}
