using Distributed.Coordinator.Cli;
using Distributed.Messages.Hosting;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;

namespace Distributed.Coordinator.Commands;

/// <summary>Everything <c>train</c> reads from its command line, validated.</summary>
public sealed record TrainSettings(
    ModelArguments Model,
    bool SingleProcess,
    FitOptions Fit,
    SgdOptions Optimizer,
    string? DataDirectory,
    string? OutDirectory,
    string? InitFrom,
    string? FreezeUpTo,
    ClusterArguments Cluster,
    bool Standardize,
    int Threads)
{
    /// <summary>The arguments as given (a cluster run records them for <c>--resume</c>).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Checkpoint every this many iterations besides each epoch's end (cluster runs; 0: epoch ends only).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Where a resumed run continues, or null.</summary>
    public Runs.ResumePoint? Resume { get; init; }

    /// <summary>This node stands by for the run in <see cref="OutDirectory"/> (<c>train --standby</c>).</summary>
    public bool Standby { get; init; }

    /// <summary>Option names <c>train</c> accepts.</summary>
    public static readonly string[] Names =
    [
        .. ModelArguments.Names, "--single-process", "--epochs", "--batch", "--lr", "--momentum", "--nesterov", "--weight-decay",
        "--lr-decay", "--lr-step-epochs", "--lr-step-gamma", "--validation-split", "--seed", "--data-dir", "--out",
        "--init-from", "--freeze-up-to", "--standardize", "--threads", "--verbose", "--checkpoint-every", "--resume", "--standby", .. Cli.TrainOutput.Names, Cli.OptionSources.ConfigOption, .. ClusterArguments.Names,
    ];

    /// <summary>Reads and validates the options.</summary>
    public static TrainSettings Read(ArgumentReader r)
    {
        var model = ModelArguments.Read(r, defaultModel: "keras-mnist-cnn");
        bool single = r.Flag("--single-process");
        var fit = new FitOptions(
            BatchSize: r.Int("--batch", 128, 1, 65_536),
            Epochs: r.Int("--epochs", 10, 1, 100_000),
            ValidationSplit: r.Double("--validation-split", 0.1, 0, 1, maxExclusive: true),
            Seed: r.ULong("--seed", 0));
        var sgd = new SgdOptions(
            LearningRate: (float)r.Double("--lr", 0.01, 1e-12, 100),
            Momentum: (float)r.Double("--momentum", 0, 0, 1, maxExclusive: true),
            Nesterov: r.Flag("--nesterov"),
            WeightDecay: (float)r.Double("--weight-decay", 0, 0, 1),
            Decay: (float)r.Double("--lr-decay", 0, 0, 1e6),
            StepEpochs: r.Int("--lr-step-epochs", 0, 0, 100_000),
            StepGamma: (float)r.Double("--lr-step-gamma", 0.1, 1e-9, 1));
        if (sgd.Nesterov && sgd.Momentum == 0f) throw new UsageException("--nesterov needs --momentum > 0");
        var cluster = ClusterArguments.Read(r, fit.BatchSize);
        if (single && cluster.Requested) throw new UsageException("--single-process cannot be combined with --workers, --seed-node or other cluster options");
        if (!single && !cluster.Requested) throw new UsageException("choose --workers N (N worker processes on this machine, or 0 to wait for external workers) or --single-process");
        var settings = new TrainSettings(model, single, fit, sgd,
            r.String("--data-dir"), r.String("--out"), r.String("--init-from"), r.String("--freeze-up-to"), cluster, r.Flag("--standardize"), r.Int("--threads", 1, 1, 256))
        {
            Arguments = r.Arguments,
            CheckpointEvery = r.Int("--checkpoint-every", single ? 0 : 100, 0, int.MaxValue),
        };
        if (single && settings.CheckpointEvery != 0)
            throw new UsageException("--checkpoint-every is for cluster runs in this build; a single-process run checkpoints at each epoch's end");
        if (!single && (settings.InitFrom is not null || settings.FreezeUpTo is not null))
            throw new UsageException("--init-from and --freeze-up-to work with --single-process only in this build");
        if (!single && settings.Threads != 1)
            throw new UsageException("--threads is for --single-process; a cluster's workers take --threads-per-worker");
        r.Flag("--verbose");
        // How the console looks is not a setting of the run: recorded arguments replayed by --resume may hold them.
        foreach (string option in Cli.TrainOutput.Names) r.Flag(option);
        r.EnsureAllConsumed(Names);
        return settings;
    }

    /// <summary>The settings recorded in checkpoints and printed at start.</summary>
    public IReadOnlyDictionary<string, string> Describe() => new Dictionary<string, string>
    {
        ["model"] = Model.Model,
        ["epochs"] = Fit.Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["batch"] = Fit.BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["validation_split"] = Fit.ValidationSplit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["seed"] = Fit.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["lr"] = Optimizer.LearningRate.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["momentum"] = Optimizer.Momentum.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["nesterov"] = Optimizer.Nesterov ? "true" : "false",
        ["weight_decay"] = Optimizer.WeightDecay.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["lr_decay"] = Optimizer.Decay.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
