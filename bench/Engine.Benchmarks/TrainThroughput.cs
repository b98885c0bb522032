using System.Diagnostics;
using System.Globalization;
using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;

namespace Distributed.Engine.Benchmarks;

/// <summary>
/// End-to-end single-process training throughput, the counterpart of <c>bench/peers/pytorch_train.py</c>:
/// <c>train-throughput --model NAME --threads T --batch 128 --iterations N [--warmup W] [--data-dir DIR]</c>.
/// SGD with lr 0.01 and momentum 0.9 on real Fashion-MNIST; the first W iterations (default 5) are not
/// timed. Prints one final line <c>images_per_sec=&lt;n&gt;</c>, plus the managed bytes the timed
/// iterations allocated on the training thread.
/// </summary>
public static class TrainThroughput
{
    /// <summary>Runs the command; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        string model = "keras-mnist-cnn";
        int threads = 1, batch = 128, iterations = 50, warmup = 5;
        string? dataDir = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--model": model = Value(); break;
                case "--threads": threads = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--batch": batch = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--iterations": iterations = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--data-dir": dataDir = Value(); break;
                default:
                    Console.Error.WriteLine($"train-throughput: unknown option '{args[i]}'; use --model --threads --batch --iterations --warmup --data-dir");
                    return 2;
            }
        }
        if (threads < 1 || batch < 1 || iterations < 1 || warmup < 0)
        {
            Console.Error.WriteLine("train-throughput: --threads, --batch and --iterations must be ≥ 1, --warmup ≥ 0");
            return 2;
        }

        var data = FashionMnist.Load(dataDir).Train;
        int needed = batch * (warmup + iterations);
        if (needed > data.Count)
        {
            Console.Error.WriteLine($"train-throughput: {warmup + iterations} iterations of {batch} need {needed} samples, the data has {data.Count}");
            return 2;
        }
        var network = BuiltInModels.Get(model).Build();
        network.InitializeWeights(0);
        network.Threads = threads;
        var trainer = new Trainer(network, new Sgd(new SgdOptions(LearningRate: 0.01f, Momentum: 0.9f)));
        var clock = new Stopwatch();
        long allocatedBefore = 0, allocatedAfter = 0;
        trainer.OnBatch = (_, iteration, total, _, _) =>
        {
            if (iteration == warmup) { allocatedBefore = GC.GetAllocatedBytesForCurrentThread(); clock.Restart(); }
            if (iteration == total) { clock.Stop(); allocatedAfter = GC.GetAllocatedBytesForCurrentThread(); }
        };
        if (warmup == 0) clock.Start();
        trainer.Fit(data.Slice(0, needed), new FitOptions(BatchSize: batch, Epochs: 1, ValidationSplit: 0, Seed: 0));
        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"model={model} threads={threads} batch={batch} iterations={iterations} seconds={seconds:F3} " +
                          $"allocated_bytes_per_iteration={(allocatedAfter - allocatedBefore) / iterations}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"images_per_sec={iterations * batch / seconds:F1}"));
        return 0;
    }
}
