using System.Globalization;
using Distributed.Coordinator.Cli;
using Distributed.Messages.Hosting;
using Distributed.Coordinator.Runs;
using Distributed.Engine.Checkpoints;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;
using Serilog;

namespace Distributed.Coordinator.Commands;

/// <summary><c>train</c>: trains on Fashion-MNIST across worker processes (<c>--workers</c>) or in this process (<c>--single-process</c>).</summary>
public static class TrainCommand
{
    /// <summary>Usage text.</summary>
    public const string Help = """
        Usage: train (--workers N | --single-process) [--model NAME|FILE.json] [--epochs E] [--batch B] [--lr L]
                     [--momentum M] [--nesterov] [--weight-decay D] [--lr-decay X] [--lr-step-epochs K --lr-step-gamma G]
                     [--validation-split F] [--seed S] [--standardize] [--data-dir DIR] [--out DIR] [--config FILE.json] [--quiet | --json] [--verbose]
               cluster:        [--min-workers K] [--max-workers K] [--host H] [--port P] [--public-hostname X]
                               [--seed-node ADDRESS] [--threads-per-worker T] [--micro-shard S] [--worker-timeout SECONDS]
                               [--shard-timeout SECONDS] [--tensor-port P] [--no-tensor-link] [--checkpoint-every K]
                               [--tls-dir DIR | --insecure]
               resume:         train --resume DIR
               single process: [--threads T] [--init-from FILE.ckpt] [--freeze-up-to LAYER]

        Trains a model on Fashion-MNIST and prints Keras-style epoch lines, then
        'test: loss=<x> top1=<x> top5=<x>' (fractions).
          --workers             N ≥ 1: start N worker processes on this machine (loopback);
                                0: wait for --min-workers external workers (see deploy/README.md)
          --single-process      train in this process, without a cluster
          --model               built-in name or JSON spec (default keras-mnist-cnn)
          --epochs              passes over the training data (default 10)
          --batch               global samples per iteration (default 128)
          --lr                  learning rate (default 0.01, Keras's)
          --momentum            momentum in [0, 1) (default 0)
          --nesterov            Nesterov momentum
          --weight-decay        L2 coefficient: the step uses g + wd·w (default 0)
          --lr-decay            Keras 2 decay: lr / (1 + decay · iterations) (default 0)
          --lr-step-epochs      multiply the rate by --lr-step-gamma every K epochs (default off)
          --validation-split    fraction held out from the end of the training set (default 0.1)
          --seed                seed of initial weights, shuffles and dropout (default 0)
          --standardize         scale pixels to zero mean and unit deviation (statistics of the training part)
                                instead of [0, 1]
          --data-dir            folder with the four Fashion-MNIST IDX files
                                (default: $FASHION_MNIST_DIR, then /usr/share/datasets/fashion-mnist)
          --out                 run folder (default runs/<yyyyMMdd-HHmmss>-<model>): metrics.jsonl, checkpoints/
                                (final.ckpt last), logs/, and at the end curves.png, confusion.png and report.md
          --quiet               no live progress line (one line per epoch, as when the output is not a terminal)
          --config              a JSON file of options without dashes, e.g. {"lr": 0.01, "nesterov": true}; every
                                option also reads DISTRIBUTED_<NAME> (e.g. DISTRIBUTED_LR, DISTRIBUTED_DATA_DIR);
                                the command line wins over the environment, which wins over the file
          --json                one JSON object per line on standard output (the metrics.jsonl rows: epochs,
                                events, test); the text goes to standard error
          --min-workers         workers that must be ready before training starts (default: --workers, at least 1);
                                given, the run also pauses while fewer are alive (default: goes on with one)
          --max-workers         workers accepted at most (default 64)
          --host, --port        address and port this node binds (default 127.0.0.1; port 0 with --workers N, else 4053)
          --public-hostname     address other nodes use to reach this one (default --host)
          --seed-node           join an existing cluster at akka.ssl.tcp://distributed@HOST:PORT (or HOST:PORT) instead
                                of founding one
          --tls-dir             this node's certificates: a folder made by 'certs init' (ca.crt, node.crt, node.key).
                                Required when the node reaches other machines (--workers 0, --seed-node, or a
                                --host other than loopback); local --workers N on loopback runs without
          --insecure            no TLS even though the node reaches other machines: anyone who can reach its ports
                                can join and send it messages (loopback experiments only)
          --threads-per-worker  engine threads of each local worker (default 1)
          --micro-shard         samples per micro-shard, the unit of work and of exact gradient summation (default 16)
          --worker-timeout      seconds to wait for the first workers (default 120)
          --checkpoint-every    also checkpoint every K iterations (default 100; 0: only at each epoch's end); the
                                last three are kept in checkpoints/iter-*.ckpt
          --resume DIR          continue the cluster run whose --out is DIR from its newest checkpoint that loads
                                (falling back to older ones), with the arguments it was started with
          --standby DIR         stand by as another coordinator node (with --seed-node of the first, and its own
                                --host/--port) for the run whose --out is DIR, a folder every such node reads: when
                                the first node dies the oldest standby takes over from the newest checkpoint with the
                                same workers (run two: the side with most coordinator nodes survives a crash)
          --shard-timeout       seconds a shard may take before worker speeds are measured (default 30); then
                                five times its expected time, at least 2 s. A late shard goes to another worker
          --tensor-port         TCP port on which the parameter server takes workers' tensor links (weights and
                                gradients; default: any free port with --workers N, else --port + 100)
          --no-tensor-link      send tensors over Akka.Remote in 256 KiB chunks only (slower; for networks that
                                allow a single port)
          --threads             engine threads of a single-process run (default 1); results do not depend on it
          --init-from           start from a checkpoint's weights (transfer learning: a different head is re-initialised)
          --freeze-up-to        freeze this layer and every layer before it

        Example: train --workers 2 --model keras-mnist-cnn --epochs 3 --batch 128 --lr 0.01 --momentum 0.9
        """;


    /// <summary>Runs the command.</summary>
    public static int Run(ArgumentReader reader, CliConsole console) => Run(reader, console, Environment.GetEnvironmentVariable);

    /// <summary>Runs the command with options also from <paramref name="environment"/> and a config file (<see cref="OptionSources"/>).</summary>
    public static int Run(ArgumentReader reader, CliConsole console, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(reader);
        IReadOnlyList<string> sources = [];
        // --resume and --standby take the run's recorded options; nothing is merged into them.
        if (!reader.Has("--resume") && !reader.Has("--standby"))
        {
            (var merged, sources) = OptionSources.Merge(reader.Arguments, MergedOptions, Flags, environment, Exclusive);
            reader = new ArgumentReader(merged);
        }
        var view = TrainOutput.Read(reader, console);
        var output = view.Text;
        if (reader.Has("--resume")) return Resume(reader, view);
        if (reader.Has("--standby")) return Standby(reader, view);
        bool verbose = reader.Has("--verbose");
        var settings = TrainSettings.Read(reader);
        // Like Lightning's run folders: every run keeps its metrics, checkpoints and report somewhere.
        if (settings.OutDirectory is null) settings = settings with { OutDirectory = RunFolder.NewDefault(settings.Model.Model) };
        output.WriteLine(EffectiveConfiguration(settings, sources));
        if (!settings.SingleProcess) return Hosting.DistributedTraining.Run(settings, verbose, view);
        var run = settings.OutDirectory is null ? null : new RunFolder(settings.OutDirectory);
        Logging.LogSetup.Configure(verbose, run?.LogDirectory);

        var inputs = TrainingInputs.Load(settings);
        var (data, spec, model) = (inputs.Data, inputs.Spec, inputs.Model);
        model.InitializeWeights(settings.Fit.Seed);
        model.Threads = settings.Threads;
        if (settings.InitFrom is not null)
        {
            int copied = TransferLearning.InitializeFrom(model, Checkpoint.Load(settings.InitFrom), settings.InitFrom);
            output.WriteLine($"initialised {copied} of {model.Layers.Count} layers from {settings.InitFrom}");
        }
        if (settings.FreezeUpTo is not null)
        {
            try { model.FreezeUpTo(settings.FreezeUpTo); }
            catch (ArgumentException) { throw new UsageException($"--freeze-up-to: the model has no layer '{settings.FreezeUpTo}'; its layers are {string.Join(", ", model.Layers.Select(l => l.Name))}"); }
        }

        Log.Information("Training {Model} on {Dir} (fingerprint {Fingerprint}) with {@Settings}", settings.Model.Model, data.Directory, data.Fingerprint, settings.Describe());
        int trainCount = settings.Fit.TrainCount(data.Train.Count);
        output.WriteLine($"Train on {trainCount} samples, validate on {data.Train.Count - trainCount} samples, test on {data.Test.Count} samples");
        var trainer = new Trainer(model, new Sgd(settings.Optimizer));
        using var metrics = MetricsWriter.For(run?.MetricsPath, view.Json);
        string specJson = spec.ToJson(indented: false);
        var description = settings.Describe().Concat(inputs.Scaling.ToSettings()).ToDictionary();
        var bar = view.Bar(settings.Fit.BatchSize, settings.Fit.Epochs);
        if (bar is not null) trainer.OnBatch = (epoch, iteration, iterations, loss, accuracy) => bar.Iteration(epoch + 1, iteration, iterations, loss, accuracy);
        using var clearBar = new BarGuard(bar);
        trainer.Fit(data.Train, settings.Fit, epoch =>
        {
            if (bar is null) output.WriteLine($"Epoch {epoch.Epoch}/{settings.Fit.Epochs}");
            bar?.EndEpoch();
            output.WriteLine(FormatEpoch(epoch));
            metrics?.Epoch(epoch);
            run?.SaveEpoch(Checkpoint.Capture(model, specJson, trainer.Velocity, epoch.Epoch, trainer.Iteration, description), epoch.Epoch);
        });

        var test = trainer.Evaluate(data.Test);
        metrics?.Test(test);
        if (run is not null)
        {
            Checkpoint.Capture(model, specJson, trainer.Velocity, settings.Fit.Epochs, trainer.Iteration, description).Save(run.FinalCheckpointPath);
            output.WriteLine($"checkpoint: {run.FinalCheckpointPath}");
            output.WriteLine($"metrics: {run.MetricsPath}");
        }
        if (run is not null) RunReport.WriteAfterRun(run, data.Directory, output);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test: loss={test.Loss:F4} top1={test.Top1:F4} top5={test.Top5:F4}"));
        return ExitCodes.Ok;
    }

    // Clears a live progress line when training stops early, so that the error starts on a line of its own.
    private readonly struct BarGuard(ProgressBar? bar) : IDisposable
    {
        public void Dispose() => bar?.EndEpoch();
    }

    // Options that may come from the environment or a config file, and which of them are flags.
    private static readonly string[] MergedOptions = [.. TrainSettings.Names.Where(n => n is not ("--resume" or "--standby" or OptionSources.ConfigOption))];
    private static readonly string[] Flags = ["--single-process", "--nesterov", "--standardize", "--no-tensor-link", "--insecure", "--verbose", .. TrainOutput.Names];
    // The command line's choice of mode (or of output) wins over the other mode's options from the environment or the file.
    private static readonly IReadOnlyCollection<string>[] Exclusive =
        [["--single-process", "--threads", "--init-from", "--freeze-up-to"], ClusterArguments.Names, ["--json"], ["--quiet"]];

    // The start-up line: the settings that decide the result (defaults filled in) and the options not from the command line.
    private static string EffectiveConfiguration(TrainSettings settings, IReadOnlyList<string> sources)
    {
        var c = settings.Cluster;
        string mode = settings.SingleProcess
            ? $"single process, {settings.Threads} thread(s)"
            : c.Workers > 0 ? $"{c.Workers} local workers" : $"external workers (at least {c.MinWorkers})";
        string line = $"configuration: {string.Join(" ", settings.Describe().Select(kv => $"{kv.Key}={kv.Value}"))} standardize={(settings.Standardize ? "true" : "false")} - {mode} - run folder {settings.OutDirectory}";
        return sources.Count == 0 ? line : line + $" (not from the command line: {string.Join(", ", sources)})";
    }

    // train --resume DIR: the run's own arguments (recorded at its start) from its newest checkpoint that loads.
    private static int Resume(ArgumentReader reader, TrainOutput view)
    {
        var output = view.Text;
        string dir = reader.String("--resume") ?? throw new UsageException("--resume needs the run folder to continue (the --out of that run)");
        bool verbose = reader.Flag("--verbose");
        var others = OptionsOtherThan(reader, ["--resume", "--verbose", .. TrainOutput.Names]);
        if (others.Count > 0)
            throw new UsageException($"--resume continues a run with the settings it was started with; drop {string.Join(" ", others)}");
        var run = new RunFolder(dir);
        string[] args = RecordedArguments(run, "--resume");
        if (File.Exists(run.FinalCheckpointPath))
            throw new Engine.EngineException($"--resume {dir}: the run finished ({run.FinalCheckpointPath} exists); there is nothing to resume");
        var point = ResumePoint.Find(run.CheckpointDirectory);
        foreach (var skipped in point?.Skipped ?? []) output.WriteLine($"skipped damaged checkpoint {skipped}");
        if (point is null)
            throw new Engine.EngineException($"--resume {dir}: no checkpoint in {run.CheckpointDirectory} loads; start the run again without --resume");
        var settings = TrainSettings.Read(new ArgumentReader(args)) with { OutDirectory = run.Root, Resume = point };
        output.WriteLine($"resuming from {point.Path} (iteration {point.Iteration})");
        return Hosting.DistributedTraining.Run(settings, verbose, view);
    }

    // The options that say where a node listens and whom it joins: a standby gives its own.
    private static readonly string[] NodeOptions = ["--workers", "--host", "--port", "--public-hostname", "--seed-node", "--tensor-port", "--tls-dir"];

    // train --standby DIR --seed-node ADDR: another coordinator node for the run whose --out is DIR (a folder
    // every coordinator node can read). It joins the first node's cluster and does nothing until the first node
    // is gone; then the singletons move to the oldest standby and the run continues from the newest checkpoint.
    private static int Standby(ArgumentReader reader, TrainOutput view)
    {
        var output = view.Text;
        string dir = reader.String("--standby") ?? throw new UsageException("--standby needs the run folder of the run to stand by for (its --out)");
        bool verbose = reader.Flag("--verbose");
        var own = new List<string> { "--workers", "0" };
        foreach (string option in NodeOptions[1..])
            if (reader.String(option) is { } value) own.AddRange([option, value]);
        if (reader.Flag("--insecure")) own.Add("--insecure");
        if (!own.Contains("--seed-node"))
            throw new UsageException("--standby needs --seed-node akka.ssl.tcp://distributed@HOST:PORT, the first coordinator node");
        var others = OptionsOtherThan(reader, ["--standby", "--verbose", "--insecure", .. TrainOutput.Names, .. NodeOptions[1..]]);
        if (others.Count > 0)
            throw new UsageException($"--standby takes the run's settings from its folder; drop {string.Join(" ", others)} (only --seed-node, --host, --port, --public-hostname, --tensor-port, --tls-dir and --insecure are its own)");
        var run = new RunFolder(dir);
        var settings = TrainSettings.Read(new ArgumentReader([.. WithoutNodeOptions(RecordedArguments(run, "--standby")).Where(a => a != "--insecure"), .. own]))
            with { OutDirectory = run.Root, Standby = true };
        output.WriteLine($"standing by for the run in {run.Root}: this node takes over when the coordinator node is gone");
        return Hosting.DistributedTraining.Run(settings, verbose, view);
    }

    // The options given besides the allowed ones (a command that takes the run's recorded settings refuses them).
    private static List<string> OptionsOtherThan(ArgumentReader reader, string[] allowed) =>
        reader.Arguments.Where(a => a.StartsWith("--", StringComparison.Ordinal) && !allowed.Contains(a.Split('=')[0])).ToList();

    private static string[] RecordedArguments(RunFolder run, string option)
    {
        string command = Path.Combine(run.Root, ResumePoint.CommandFile);
        if (!File.Exists(command))
            throw new UsageException($"{option} {run.Root}: there is no {ResumePoint.CommandFile}; point it at the --out folder of a cluster run (train --workers ...)");
        try { return System.Text.Json.JsonSerializer.Deserialize<string[]>(File.ReadAllText(command)) ?? []; }
        catch (System.Text.Json.JsonException e) { throw new Engine.EngineException($"{option} {run.Root}: {ResumePoint.CommandFile} is damaged ({e.Message})"); }
    }

    private static IEnumerable<string> WithoutNodeOptions(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (NodeOptions.Contains(args[i])) { i++; continue; }
            yield return args[i];
        }
    }

    /// <summary>Keras's end-of-epoch line, plus throughput.</summary>
    public static string FormatEpoch(EpochMetrics m)
    {
        var s = string.Create(CultureInfo.InvariantCulture,
            $"{m.Iterations}/{m.Iterations} - {m.Seconds:F0}s - loss: {m.Loss:F4} - accuracy: {m.Accuracy:F4}");
        if (m.ValLoss is { } vl && m.ValAccuracy is { } va)
            s += string.Create(CultureInfo.InvariantCulture, $" - val_loss: {vl:F4} - val_accuracy: {va:F4}");
        return s + string.Create(CultureInfo.InvariantCulture, $" - {m.ImagesPerSecond:F0} images/s");
    }
}
