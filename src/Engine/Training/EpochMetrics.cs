namespace Distributed.Engine.Training;

/// <summary>
/// One epoch of training: loss and accuracy are sample-weighted means over the epoch's
/// training batches (training mode); validation figures are in inference mode, null without a
/// validation split.
/// </summary>
public sealed record EpochMetrics(
    int Epoch,
    double Loss,
    double Accuracy,
    double? ValLoss,
    double? ValAccuracy,
    int Samples,
    int Iterations,
    double Seconds,
    double ImagesPerSecond,
    float LearningRate);
