namespace Distributed.Messages.Protocol;

/// <summary>
/// Marks a message that carries tensors (weights, gradients, state); the serialization
/// bindings send these with the MessagePack serializer as raw float32 blocks.
/// </summary>
public interface ITensorMessage
{
    /// <summary>The training run the message belongs to; messages of other runs are dropped.</summary>
    string RunId { get; }
}

/// <summary>
/// Marks a small control message (registration, plans, acknowledgements); the bindings send
/// these with Hyperion restricted to the project's own types.
/// </summary>
public interface IControlMessage
{
    /// <summary>The training run the message belongs to; messages of other runs are dropped.</summary>
    string RunId { get; }
}
