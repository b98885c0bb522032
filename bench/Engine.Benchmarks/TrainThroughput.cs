using System.Diagnostics;
using System.Globalization;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;
using Distributed.Messages.Hosting;

namespace Distributed.Engine.Benchmarks;

/// <summary>
/// End-to-end single-process training throughput, the counterpart of <c>bench/peers/pytorch_train.py</c>:
/// <c>train-throughput --model NAME --threads T --batch 128 --iterations N [--warmup W] [--data-dir DIR] [--layers] [--micro-shard M]</c>.
/// SGD with lr 0.01 and momentum 0.9 on real Fashion-MNIST; the first W iterations (default 5) are not
/// timed. Prints one final line <c>images_per_sec=&lt;n&gt;</c>, plus the managed bytes the timed
/// iterations allocated on the training thread. <c>--layers</c> adds each layer's forward and backward time.
/// <c>--micro-shard M</c> times a cluster worker's computation instead (gradients in M-sample micro-shards, fixed-point sums, no update).
/// </summary>
public static class TrainThroughput
{
    /// <summary>Runs the command; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        string model;
        string? dataDir;
        int threads, batch, iterations, warmup, microShard;
        bool layers;
        try
        {
            var r = new ArgumentReader(args);
            model = r.String("--model", "keras-mnist-cnn")!;
            threads = r.Int("--threads", 1, 1, 256);
            batch = r.Int("--batch", 128, 1, 65_536);
            iterations = r.Int("--iterations", 50, 1, 1_000_000);
            warmup = r.Int("--warmup", 5, 0, 1_000_000);
            dataDir = r.String("--data-dir");
            layers = r.Flag("--layers");
            microShard = r.Int("--micro-shard", 0, 0, 65_536);
            r.EnsureAllConsumed(["--model", "--threads", "--batch", "--iterations", "--warmup", "--data-dir", "--layers", "--micro-shard"]);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"train-throughput: {e.Message}");
            return ExitCodes.Usage;
        }

        var data = FashionMnist.Load(dataDir).Train;
        int needed = batch * (warmup + iterations);
        if (needed > data.Count)
        {
            Console.Error.WriteLine($"train-throughput: {warmup + iterations} iterations of {batch} need {needed} samples, the data has {data.Count}");
            return ExitCodes.Usage;
        }
        var network = BuiltInModels.Get(model).Build();
        network.InitializeWeights(0);
        network.Threads = threads;
        if (layers) network.Timings = new LayerTimings(network.Layers.Count);
        if (microShard > 0) return RunShards(network, data, microShard, batch, warmup, iterations, model, threads);
        var trainer = new Trainer(network, new Sgd(new SgdOptions(LearningRate: 0.01f, Momentum: 0.9f)));
        var clock = new Stopwatch();
        long allocatedBefore = 0, allocatedAfter = 0;
        trainer.OnBatch = (_, iteration, total, _, _) =>
        {
            if (iteration == warmup) { allocatedBefore = GC.GetAllocatedBytesForCurrentThread(); clock.Restart(); network.Timings?.Reset(); }
            if (iteration == total) { clock.Stop(); allocatedAfter = GC.GetAllocatedBytesForCurrentThread(); }
        };
        if (warmup == 0) { allocatedBefore = GC.GetAllocatedBytesForCurrentThread(); clock.Start(); }
        trainer.Fit(data.Slice(0, needed), new FitOptions(BatchSize: batch, Epochs: 1, ValidationSplit: 0, Seed: 0));
        double seconds = clock.Elapsed.TotalSeconds;
        if (network.Timings is { } t) PrintLayers(network, t, iterations);
        Console.WriteLine($"model={model} threads={threads} batch={batch} iterations={iterations} seconds={seconds:F3} " +
                          $"allocated_bytes_per_iteration={(allocatedAfter - allocatedBefore) / iterations}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"images_per_sec={iterations * batch / seconds:F1}"));
        return 0;
    }

    // A worker's computation of whole batches (ShardComputer: grouped parameter gradients per micro-shard,
    // fixed-point sums), without the update: what a cluster worker adds to the engine's own step.
    private static int RunShards(Sequential network, Dataset data, int microShard, int batch, int warmup, int iterations, string model, int threads)
    {
        var computer = new ShardComputer(network, data, microShard, 0);
        var indices = new int[batch];
        var clock = new Stopwatch();
        long allocatedBefore = 0;
        for (int it = 0; it < warmup + iterations; it++)
        {
            if (it == warmup) { allocatedBefore = GC.GetAllocatedBytesForCurrentThread(); clock.Restart(); network.Timings?.Reset(); }
            for (int i = 0; i < batch; i++) indices[i] = it * batch + i;
            computer.Compute(0, indices);
        }
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        double seconds = clock.Elapsed.TotalSeconds;
        if (network.Timings is { } t) PrintLayers(network, t, iterations);
        Console.WriteLine($"model={model} threads={threads} batch={batch} micro_shard={microShard} iterations={iterations} seconds={seconds:F3} " +
                          $"allocated_bytes_per_iteration={allocated / iterations}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"images_per_sec={iterations * batch / seconds:F1}"));
        return 0;
    }

    private static void PrintLayers(Sequential network, LayerTimings t, int iterations)
    {
        Console.WriteLine($"{"layer",-28} {"forward ms",11} {"backward ms",12}   (per iteration)");
        double total = t.LossMilliseconds / iterations;
        for (int i = 0; i < network.Layers.Count; i++)
        {
            var layer = network.Layers[i];
            double f = t.ForwardMilliseconds(i) / iterations, b = t.BackwardMilliseconds(i) / iterations;
            total += f + b;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{layer.Name + " (" + layer.TypeName + ")",-28} {f,11:F2} {b,12:F2}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"loss",-28} {t.LossMilliseconds / iterations,11:F2}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"total in layers and loss",-28} {total,11:F2}"));
    }
}
