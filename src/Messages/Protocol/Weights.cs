namespace Distributed.Messages.Protocol;

// Weight distribution and checkpoints: ParameterServer → Workers, Coordinator ↔ ParameterServer.

/// <summary>
/// New weights and batch-norm state after <see cref="Iteration"/>; <see cref="Version"/> counts updates.
/// <see cref="Weights"/> are the parameters from <see cref="Offset"/> on (float32, the model's flat layout).
/// Usually the whole vector; over the tensor link a version can come in two parts: first its tail (the
/// parameters from <see cref="Offset"/> to the end, no state), updated as soon as every shard's gradient tail
/// arrived, then its head (offset 0, the parameters before the tail's offset, and the state). A worker
/// applies the version once it has both.
/// </summary>
public sealed record WeightsUpdated(string RunId, long Version, long Iteration, float[] Weights, float[] State, int Offset = 0) : ITensorMessage;

/// <summary>The coordinator asks for the current weights (validation, test, checkpoints).</summary>
public sealed record GetWeights(string RunId) : IControlMessage;

/// <summary>The parameter server's answer to <see cref="GetWeights"/>.</summary>
public sealed record WeightsSnapshot(string RunId, long Version, long Iteration, float[] Weights, float[] State) : ITensorMessage;

/// <summary>
/// The coordinator asks the parameter server to write a checkpoint after <see cref="Iteration"/> iterations,
/// <see cref="Epoch"/> of them complete. A checkpoint within an epoch carries the epoch's training figures so
/// far (<see cref="EpochSamples"/>, <see cref="EpochCorrect"/>, <see cref="EpochLossSum"/>), so that a resumed
/// run reports the whole epoch.
/// </summary>
public sealed record SaveCheckpoint(string RunId, string Path, int Epoch, long Iteration,
    int EpochSamples = 0, long EpochCorrect = 0, double EpochLossSum = 0) : IControlMessage;

/// <summary>A checkpoint was written (or not: <see cref="Error"/>).</summary>
public sealed record CheckpointSaved(string RunId, string Path, string? Error) : IControlMessage;

/// <summary>
/// One piece of a large serialized tensor message. Akka.Remote carries every message of a
/// node pair over one TCP connection, so a multi-megabyte frame would hold up the heartbeats
/// queued behind it; pieces of <c>ChunkBytes</c> keep each frame short.
/// </summary>
public sealed record TensorChunk(string RunId, long TransferId, int Index, int Count, string Manifest, byte[] Payload) : ITensorMessage;

/// <summary>
/// Parameter server → Worker: connect a tensor link (a plain TCP connection for weights and
/// gradients, beside Akka.Remote) to <paramref name="Host"/>:<paramref name="Port"/> and present
/// <paramref name="Token"/>. Until the link is up, and if it cannot be made, tensors travel over
/// Akka.Remote as chunks.
/// </summary>
/// <param name="RunId">The run.</param>
/// <param name="Host">Host name or address of the parameter server's node.</param>
/// <param name="Port">TCP port of its tensor-link listener.</param>
/// <param name="Token">Base64 of 32 random bytes, proving to the listener which worker connects.</param>
public sealed record TensorLinkOffered(string RunId, string Host, int Port, string Token) : IControlMessage;
