using System.Diagnostics;
using Distributed.Engine.Data;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;

namespace Distributed.Engine.Training;

/// <summary>
/// Single-process mini-batch training of a <see cref="Sequential"/> model with <see cref="Sgd"/>:
/// Keras's <c>fit</c> and <c>evaluate</c>. It is also the reference that distributed runs are
/// checked against. Batch buffers are allocated once per batch size and reused.
/// </summary>
public sealed class Trainer
{
    private float[] _batchImages = [];
    private int[] _batchLabels = [];
    private int[] _order = [];
    private readonly StepContext _context = new() { Training = true };

    /// <summary>Creates a trainer for <paramref name="model"/> with zeroed momentum buffers.</summary>
    public Trainer(Sequential model, Sgd optimizer)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Velocity = new float[model.Weights.Length];
    }

    /// <summary>The model being trained.</summary>
    public Sequential Model { get; }

    /// <summary>The optimiser.</summary>
    public Sgd Optimizer { get; }

    /// <summary>Momentum buffers, same layout as the weights.</summary>
    public float[] Velocity { get; }

    /// <summary>Optimiser steps done so far (Keras's <c>iterations</c>).</summary>
    public long Iteration { get; set; }

    /// <summary>Called after every iteration with (epoch, iteration within the epoch, iterations in the epoch, running loss, running accuracy).</summary>
    public Action<int, int, int, double, double>? OnBatch { get; set; }

    /// <summary>
    /// Trains for <see cref="FitOptions.Epochs"/> epochs. The last <see cref="FitOptions.ValidationSplit"/>
    /// of <paramref name="data"/> is held out (before shuffling) and evaluated after every epoch.
    /// <paramref name="onEpoch"/> runs after each epoch (for logging and checkpoints).
    /// </summary>
    public IReadOnlyList<EpochMetrics> Fit(Dataset data, FitOptions options, Action<EpochMetrics>? onEpoch = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (data.SampleShape != Model.InputShape)
            throw new ArgumentException($"the data's samples are {data.SampleShape} but the model expects {Model.InputShape}", nameof(data));
        if (data.NumClasses > Model.Classes)
            throw new ArgumentException($"the data has {data.NumClasses} classes but the model predicts {Model.Classes}; give the model a head with {data.NumClasses} units", nameof(data));
        int trainCount = options.TrainCount(data.Count);
        if (trainCount <= 0) throw new ArgumentException($"validation split {options.ValidationSplit} leaves no training samples out of {data.Count}", nameof(data));
        Dataset? validation = trainCount < data.Count ? data.Slice(trainCount, data.Count - trainCount) : null;

        Allocate(options.BatchSize);
        if (_order.Length != trainCount) _order = new int[trainCount];
        var history = new List<EpochMetrics>();
        for (int epoch = options.InitialEpoch; epoch < options.Epochs; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            var metrics = RunEpoch(data, trainCount, epoch, options, cancellation);
            if (validation is not null)
            {
                var val = Evaluate(validation, Math.Max(options.BatchSize, 256));
                metrics = metrics with { ValLoss = val.Loss, ValAccuracy = val.Top1 };
            }
            history.Add(metrics);
            onEpoch?.Invoke(metrics);
        }
        return history;
    }

    private EpochMetrics RunEpoch(Dataset data, int trainCount, int epoch, FitOptions options, CancellationToken cancellation)
    {
        EpochOrder.Fill(_order, options.Seed, epoch, options.Shuffle);
        int iterations = EpochOrder.Iterations(trainCount, options.BatchSize);
        _context.Training = true;
        _context.Seed = options.Seed;
        _context.Epoch = epoch;
        var segments = Model.TrainableSegments();
        double lossSum = 0;
        long correct = 0;
        float lr = 0;
        var clock = Stopwatch.StartNew();
        for (int it = 0; it < iterations; it++)
        {
            cancellation.ThrowIfCancellationRequested();
            int start = it * options.BatchSize;
            int batch = Math.Min(options.BatchSize, trainCount - start);
            var indices = _order.AsSpan(start, batch);
            data.Gather(indices, _batchImages, _batchLabels);
            indices.CopyTo(_context.SampleIndices);
            var (l, c) = Model.ComputeGradients(_batchImages, _batchLabels, batch, _context, 1f / batch);
            lr = Optimizer.LearningRateAt(Iteration, epoch);
            Optimizer.Step(Model.Weights, Model.Gradients, Velocity, segments, lr, threads: Model.Threads);
            Iteration++;
            lossSum += l;
            correct += c;
            OnBatch?.Invoke(epoch, it + 1, iterations, lossSum / (start + batch), (double)correct / (start + batch));
        }
        double seconds = clock.Elapsed.TotalSeconds;
        return new EpochMetrics(epoch + 1, lossSum / trainCount, (double)correct / trainCount, null, null,
            trainCount, iterations, seconds, trainCount / Math.Max(seconds, 1e-9), lr);
    }

    /// <summary>Inference-mode loss, top-1 and top-5 accuracy over <paramref name="data"/>.</summary>
    public EvaluationResult Evaluate(Dataset data, int batchSize = 256) => Evaluation.Run(Model, data, batchSize);

    private void Allocate(int batchSize)
    {
        int size = Model.InputShape.Size;
        if (_batchLabels.Length < batchSize)
        {
            _batchImages = new float[batchSize * size];
            _batchLabels = new int[batchSize];
            _context.SampleIndices = new int[batchSize];
        }
        Model.EnsureCapacity(batchSize);
    }
}
