using Akka.Actor;

namespace Distributed.Messages.Protocol;

// One iteration: Coordinator → ParameterServer (BeginStep), Coordinator → Worker (ComputeGradients),
// Worker → ParameterServer (GradientShard), ParameterServer → Coordinator (StepCompleted / ShardRejected).

/// <summary>
/// Everything a node needs to take part in a run: the model (spec JSON), the data it must have
/// (fingerprint), the optimiser, the seed and the batch arithmetic. A global batch is split
/// into micro-shards of <see cref="MicroShardSize"/> samples whose gradient sums are added in
/// fixed point, so results do not depend on which worker computed which micro-shard.
/// <see cref="InputMean"/> and <see cref="InputStd"/> standardise the pixels on every node (0 and 1: inputs stay in [0, 1]).
/// </summary>
public sealed record RunPlan(
    string RunId,
    string ModelSpecJson,
    string DatasetFingerprint,
    ulong Seed,
    int Epochs,
    int GlobalBatch,
    int MicroShardSize,
    double ValidationSplit,
    int TrainCount,
    float LearningRate,
    float Momentum,
    bool Nesterov,
    float WeightDecay,
    float LearningRateDecay,
    int StepEpochs,
    float StepGamma,
    float InputMean = 0f,
    float InputStd = 1f) : IControlMessage;

/// <summary>
/// The coordinator tells the parameter server the run and the workers that receive weights. With
/// <see cref="ResumeFrom"/> (a checkpoint file the parameter server's node can read) it starts from that
/// checkpoint's weights, state and momentum, at its iteration, instead of the seed's initial weights.
/// </summary>
public sealed record StartRun(string RunId, RunPlan Plan, IReadOnlyList<IActorRef> Workers, string? ResumeFrom = null) : IControlMessage;

/// <summary>The worker set changed; weight broadcasts go to exactly these workers.</summary>
public sealed record WorkersChanged(string RunId, IReadOnlyList<IActorRef> Workers) : IControlMessage;

/// <summary>The parameter server initialised the weights (version 0) and broadcast them.</summary>
public sealed record RunStarted(string RunId, long Version, int ParameterCount) : IControlMessage;

/// <summary>
/// The coordinator announces an iteration to the parameter server: how many samples and
/// micro-shards to expect and which learning rate to apply.
/// </summary>
public sealed record BeginStep(string RunId, long Iteration, int Epoch, long Version, int SampleCount, int MicroShardCount, float LearningRate) : IControlMessage;

/// <summary>
/// A worker is asked for the gradient sums of consecutive micro-shards of the global batch,
/// starting at <see cref="FirstMicroShard"/>, computed on weights of <see cref="Version"/>.
/// <see cref="SampleIndices"/> are dataset indices, in batch order.
/// </summary>
public sealed record ComputeGradients(string RunId, long Iteration, int Epoch, long Version, int ShardId, int FirstMicroShard, int[] SampleIndices) : IControlMessage;

/// <summary>
/// A worker's result for one shard: the fixed-point sum of its micro-shards' gradient sums,
/// per-micro-shard loss sums, hit counts, sizes and batch-norm statistics (each micro-shard's
/// batch mean and variance laid out like the model's state vector), and how long it took.
/// </summary>
public sealed record GradientShard(
    string RunId,
    long Iteration,
    long Version,
    int ShardId,
    string WorkerId,
    int FirstMicroShard,
    int[] MicroShardSizes,
    double[] MicroShardLossSums,
    int[] MicroShardCorrect,
    long[] GradientFixedPoint,
    float[] BatchStatistics,
    double ComputeMilliseconds) : ITensorMessage;

/// <summary>
/// The trailing part of a shard's fixed-point gradient sum, parameters <see cref="Offset"/> to the end,
/// sent over the tensor link as soon as the backward pass has finished those layers (the dense head,
/// most of the bytes) while it still computes the layers before them. The <see cref="GradientShard"/>
/// of the same iteration, shard and worker then carries only the parameters before
/// <see cref="Offset"/>; the parameter server joins the two, or rejects such a shard whose tail is missing.
/// The tail covers the shard's <see cref="MicroShardCount"/> micro-shards from <see cref="FirstMicroShard"/>:
/// once every micro-shard's tail is in, the parameter server updates those parameters and sends them ahead.
/// </summary>
public sealed record GradientTail(string RunId, long Iteration, long Version, int ShardId, string WorkerId, int Offset, long[] GradientFixedPoint,
    int FirstMicroShard, int MicroShardCount) : ITensorMessage;

/// <summary>The parameter server rejected a shard (stale, foreign, wrong length, not finite); the coordinator re-assigns its samples.</summary>
public sealed record ShardRejected(string RunId, long Iteration, int ShardId, string WorkerId, string Reason) : IControlMessage;

/// <summary>The parameter server added a shard to its iteration; the coordinator no longer waits for it.</summary>
public sealed record ShardAccepted(string RunId, long Iteration, int ShardId, string WorkerId) : IControlMessage;

/// <summary>A worker could not compute a shard (its computation threw); the coordinator re-assigns the shard's samples.</summary>
public sealed record ShardFailed(string RunId, long Iteration, int ShardId, string WorkerId, string Reason) : IControlMessage;

/// <summary>How long one worker took for one shard, for speed-proportional sharding.</summary>
public sealed record ShardTiming(string WorkerId, int Samples, double ComputeMilliseconds);

/// <summary>
/// The parameter server applied an iteration's update and broadcast the new weights.
/// <see cref="RejectedShards"/> and <see cref="DroppedShards"/> count, over the run so far,
/// shards refused for bad content and stale or foreign shards dropped.
/// </summary>
public sealed record StepCompleted(string RunId, long Iteration, long Version, double LossSum, int Correct, int Samples,
    IReadOnlyList<ShardTiming> Timings, int RejectedShards, int DroppedShards) : IControlMessage;
