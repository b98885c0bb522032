using System.Diagnostics;
using System.Globalization;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;
using Distributed.Messages.Hosting;

namespace Distributed.Engine.Benchmarks;

/// <summary>
/// How much faster T threads train than one, measured in one process so that the machine's drift (which
/// moves separate runs by 10–30 % here) hits both sides alike:
/// <c>thread-scaling --model NAME [--threads T] [--batch 128] [--block N] [--rounds R] [--data-dir DIR]</c>.
/// One training run alternates blocks of N iterations at 1 thread and at T threads (after a warm-up block
/// of each); every round prints both rates and their ratio. The final line is <c>scaling=&lt;median ratio&gt;</c>.
/// </summary>
public static class ThreadScaling
{
    /// <summary>Runs the command; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        string model;
        string? dataDir;
        int threads, batch, block, rounds;
        try
        {
            var r = new ArgumentReader(args);
            model = r.String("--model", "keras-mnist-cnn")!;
            threads = r.Int("--threads", 2, 2, 256);
            batch = r.Int("--batch", 128, 1, 65_536);
            block = r.Int("--block", 10, 1, 1_000_000);
            rounds = r.Int("--rounds", 6, 1, 10_000);
            dataDir = r.String("--data-dir");
            r.EnsureAllConsumed(["--model", "--threads", "--batch", "--block", "--rounds", "--data-dir"]);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"thread-scaling: {e.Message}");
            return ExitCodes.Usage;
        }

        var data = FashionMnist.Load(dataDir).Train;
        var network = BuiltInModels.Get(model).Build();
        network.InitializeWeights(0);
        var trainer = new Trainer(network, new Sgd(new SgdOptions(LearningRate: 0.01f, Momentum: 0.9f)));
        // Blocks alternate 1, T, 1, T, ...; the first two are the warm-up.
        int blocks = 2 * (rounds + 1), done = 0;
        var seconds = new double[blocks];
        var clock = Stopwatch.StartNew();
        network.Threads = 1;
        trainer.OnBatch = (_, _, _, _, _) =>
        {
            if (++done % block != 0) return;
            int finished = done / block - 1;
            seconds[finished] = clock.Elapsed.TotalSeconds;
            network.Threads = finished % 2 == 0 ? threads : 1;
            clock.Restart();
        };
        int perEpoch = data.Count / batch;
        int epochs = (blocks * block + perEpoch - 1) / perEpoch;
        using var stop = new CancellationTokenSource();
        try
        {
            trainer.OnBatch += (_, _, _, _, _) => { if (done == blocks * block) stop.Cancel(); };
            trainer.Fit(data.Slice(0, perEpoch * batch), new FitOptions(BatchSize: batch, Epochs: epochs, ValidationSplit: 0, Seed: 0), cancellation: stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        var ratios = new List<double>();
        for (int round = 1; round <= rounds; round++)
        {
            double one = block * batch / seconds[2 * round], many = block * batch / seconds[2 * round + 1];
            ratios.Add(many / one);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round}: 1 thread {one:F1} images/s, {threads} threads {many:F1} images/s, ratio {many / one:F3}"));
        }
        ratios.Sort();
        double median = ratios.Count % 2 == 1 ? ratios[ratios.Count / 2] : (ratios[ratios.Count / 2 - 1] + ratios[ratios.Count / 2]) / 2;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"model={model} threads={threads} batch={batch} block={block} rounds={rounds}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"scaling={median:F3}"));
        return 0;
    }
}
