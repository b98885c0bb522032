using Akka.Actor;
using Distributed.Engine;
using Distributed.Engine.Data;
using Distributed.Messages.Hosting;
using Distributed.Messages.Security;
using Distributed.Worker.Actors;
using Serilog;
using Serilog.Events;

namespace Distributed.Worker;

/// <summary>
/// The worker executable: joins the training cluster through a seed node, registers with the
/// coordinator and computes gradient shards on the local engine until the run ends.
/// </summary>
public static class Program
{
    private const string Help = """
        Usage: Distributed.Worker --seed-node akka.ssl.tcp://distributed@HOST:PORT (--tls-dir DIR | --insecure)
                                  [--host H] [--port P] [--public-hostname X] [--threads T] [--data-dir DIR]
                                  [--join-timeout SECONDS] [--worker-id ID] [--log-dir DIR] [--throttle F] [--verbose]

        A worker process of the training cluster.
          --seed-node        address of a cluster node, normally the coordinator (required); HOST:PORT is enough
          --tls-dir          this node's certificates, a folder made by 'certs init' (ca.crt, node.crt, node.key);
                             mutual TLS with every other node, which must hold certificates of the same CA
          --insecure         no TLS: anyone who can reach the ports can join and send messages (loopback only)
          --host             address to bind (default 127.0.0.1)
          --port             port to bind (default 0: any free port)
          --public-hostname  address other nodes use to reach this one (default --host)
          --threads          engine threads (default 1)
          --data-dir         folder with the four Fashion-MNIST IDX files (default: $FASHION_MNIST_DIR, then
                             /usr/share/datasets/fashion-mnist); must hold the same files as the coordinator's
          --join-timeout     seconds to try to join before giving up (default 60)
          --worker-id        name in logs and metrics (default HOST-PID)
          --log-dir          also write a log file there
          --throttle         F ≥ 1: after each shard sleep (F − 1) × its compute time, to test stragglers (default 1)

        Example: Distributed.Worker --seed-node akka.ssl.tcp://distributed@10.0.0.1:4053 --tls-dir certs/10.0.0.2 --host 0.0.0.0 --public-hostname 10.0.0.2 --port 4054
        """;

    private static readonly string[] Options =
        ["--seed-node", "--tls-dir", "--insecure", "--host", "--port", "--public-hostname", "--threads", "--data-dir", "--join-timeout", "--worker-id", "--log-dir", "--throttle", "--verbose"];

    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.Out.WriteLine(Help);
            return ExitCodes.Ok;
        }
        bool verbose = args.Contains("--verbose");
        try
        {
            var r = new ArgumentReader(args);
            string? tlsDir = r.String("--tls-dir");
            bool insecure = r.Flag("--insecure");
            NodeSecurity.RequireOneChoice(tlsDir, insecure);
            if (tlsDir is null && !insecure)
                throw new UsageException("a worker talks to other nodes over mutual TLS: pass --tls-dir DIR with the files of 'certs init --out CERTS --hosts HOST,...' (DIR = CERTS/HOST), or --insecure for a loopback experiment");
            string seed = ClusterAddress.Normalize(r.String("--seed-node") ?? throw new UsageException($"--seed-node is required, e.g. --seed-node {ClusterAddress.Example(tlsDir is not null)}"),
                tls: tlsDir is not null);
            string host = r.String("--host", "127.0.0.1")!;
            int port = r.Int("--port", 0, 0, 65535);
            string? publicHost = r.String("--public-hostname");
            int threads = r.Int("--threads", 1, 1, 256);
            string? dataDir = r.String("--data-dir");
            int joinTimeout = r.Int("--join-timeout", 60, 1, 86_400);
            string workerId = r.String("--worker-id", $"{Environment.MachineName}-{Environment.ProcessId}")!;
            string? logDir = r.String("--log-dir");
            double throttle = r.Double("--throttle", 1.0, 1.0, 1000.0);
            r.Flag("--verbose");
            r.EnsureAllConsumed(Options);

            ConfigureLogging(verbose, logDir, workerId);
            using var tls = NodeSecurity.Load(tlsDir, publicHost ?? host);
            if (NodeSecurity.InsecureWarning(tls, host, port) is { } warning) Log.Warning("{Warning}", warning);
            var data = FashionMnist.Load(dataDir);
            var options = new ClusterOptions(ClusterOptions.WorkerRole, host, port, publicHost, [seed], Tls: tls);
            using var system = ClusterSetup.Start(options);
            var exit = new TaskCompletionSource<WorkerExit>(TaskCreationOptions.RunContinuationsAsynchronously);
            var coordinator = ClusterSetup.CoordinatorProxy(system);
            system.ActorOf(WorkerActor.Props(new WorkerSettings(workerId, data.Train, data.Fingerprint, threads, coordinator,
                TimeSpan.FromSeconds(joinTimeout), exit, throttle)).WithMailbox(ClusterSetup.PeerMailbox), "worker");
            // SIGTERM/SIGINT run Akka's coordinated shutdown; the worker then ends too.
            // Akka.Remote shuts a node down when its outbound TLS handshake fails, so with TLS that is the likely cause.
            system.WhenTerminated.ContinueWith(_ => exit.TrySetResult(new WorkerExit(ExitCodes.Failure,
                "the node was shut down (signal, cluster downing" + (tls is null ? ")" : ", or a failed TLS handshake)") + " before the run finished" + (tls is null ? "" : "; " + tls.FailureHint()))));
            var result = exit.Task.GetAwaiter().GetResult();
            CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(10));
            if (result.Code != ExitCodes.Ok) Console.Error.WriteLine($"error: {result.Message}");
            return result.Code;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (EngineException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.Failure;
        }
        finally
        {
            Log.CloseAndFlush();
        }
    }

    private static void ConfigureLogging(bool verbose, string? logDir, string workerId)
    {
        var config = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .Enrich.WithProperty("Node", workerId)
            .Enrich.WithProperty("Role", ClusterOptions.WorkerRole)
            .WriteTo.Logger(console => console
                .Filter.ByExcluding(e => !verbose && e.Level < LogEventLevel.Error && e.Properties.ContainsKey("LogSource"))
                .WriteTo.Console(restrictedToMinimumLevel: verbose ? LogEventLevel.Debug : LogEventLevel.Warning,
                    standardErrorFromLevel: LogEventLevel.Verbose,
                    // One line per event on the console; stack traces go to the log file (or here with --verbose).
                    outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] [{Node}] {Message:lj}{NewLine}" + (verbose ? "{Exception}" : "")));
        if (logDir is not null)
        {
            Directory.CreateDirectory(logDir);
            config = config.WriteTo.File(Path.Combine(logDir, $"worker-{workerId}.log"),
                fileSizeLimitBytes: LogFileLimits.FileBytes, rollOnFileSizeLimit: true,
                retainedFileCountLimit: LogFileLimits.RetainedFiles,
                outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} [{Level:u3}] [{Node}] {Message:lj} {Properties}{NewLine}{Exception}");
        }
        Log.Logger = config.CreateLogger();
    }
}
