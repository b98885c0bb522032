using Akka.Configuration;
using Distributed.Messages.Protocol;

namespace Distributed.Messages.Serialization;

/// <summary>
/// The serialization and transport settings every node of a run must share: the serializer bindings
/// (<see cref="IControlMessage"/> → restricted Hyperion, <see cref="ITensorMessage"/> → MessagePack)
/// and the Akka.Remote frame size that goes with <see cref="ChunkBytes"/>.
/// </summary>
/// <remarks>
/// Put <see cref="Hocon"/> in front of the node's own configuration so these keys win:
/// <code>
/// var config = SerializationConfig.Hocon.WithFallback(nodeConfig);
/// var system = ActorSystem.Create("distributed", config);
/// // Akka.Hosting: builder.AddHocon(SerializationConfig.Hocon, HoconAddMode.Prepend);
/// </code>
/// <para>
/// Frames versus chunks. Akka.Remote (classic, DotNetty) carries every message between two nodes over
/// ONE TCP connection and writes each message as one frame. Cluster and remote-watch heartbeats are
/// priority messages: the endpoint writer lets them jump its own queue, but never a frame that is
/// already on the wire. Raising <c>maximum-frame-size</c> to fit whole weight vectors (4.8 MB for 1.2 M
/// floats, 9.6 MB for a fixed-point gradient) would put tens of milliseconds of transmission in front
/// of every heartbeat on a 1 Gb/s link, per message, and several such messages back to back look like
/// an unreachable node to the phi-accrual failure detector. Instead, large tensor messages are cut into
/// <see cref="TensorChunk"/>s of <see cref="ChunkBytes"/> (256 KiB ≈ 2 ms at 1 Gb/s) by
/// <see cref="TensorChunker"/> and reassembled by <see cref="TensorAssembler"/>; the frame limit is
/// <see cref="MaximumFrameBytes"/> (1 MiB), which leaves room for a chunk plus the envelope (recipient
/// and sender paths, run id) and lets small tensor messages (a tiny model's weights) go unchunked.
/// A message over the frame limit is logged and dropped by Akka.Remote; the association survives.
/// </para>
/// </remarks>
public static class SerializationConfig
{
    /// <summary>Payload bytes per <see cref="TensorChunk"/> (256 KiB).</summary>
    public const int ChunkBytes = 256 * 1024;

    /// <summary>
    /// Akka.Remote <c>maximum-frame-size</c> (1 MiB): a chunk plus envelope fits with room to spare.
    /// Tensor messages whose encoding exceeds <see cref="DirectSendLimitBytes"/> must be chunked.
    /// </summary>
    public const int MaximumFrameBytes = 1024 * 1024;

    /// <summary>
    /// Largest encoded tensor message to send without chunking: a frame minus 64 KiB for the remote
    /// envelope (recipient and sender paths, serializer id, manifest, sequence numbers).
    /// </summary>
    public const int DirectSendLimitBytes = MaximumFrameBytes - 64 * 1024;

    /// <summary>Serializer name of the restricted Hyperion serializer in <c>akka.actor.serializers</c>.</summary>
    public const string ControlSerializerName = "hyperion";

    /// <summary>Serializer name of <see cref="TensorMessageSerializer"/> in <c>akka.actor.serializers</c>.</summary>
    public const string TensorSerializerName = "tensor";

    /// <summary>The HOCON text of <see cref="Hocon"/>.</summary>
    public static string HoconText { get; } = $$"""
        akka.actor {
          serializers {
            # The only Hyperion in the system: the stock HyperionSerializer restricted to the protocol's types.
            {{ControlSerializerName}} = "{{typeof(ControlMessageSerializer).FullName}}, {{typeof(ControlMessageSerializer).Assembly.GetName().Name}}"
            {{TensorSerializerName}} = "{{typeof(TensorMessageSerializer).FullName}}, {{typeof(TensorMessageSerializer).Assembly.GetName().Name}}"
          }
          serialization-bindings {
            # Only our marker interfaces are bound; System.Object is never bound to Hyperion.
            "{{typeof(IControlMessage).FullName}}, {{typeof(IControlMessage).Assembly.GetName().Name}}" = {{ControlSerializerName}}
            "{{typeof(ITensorMessage).FullName}}, {{typeof(ITensorMessage).Assembly.GetName().Name}}" = {{TensorSerializerName}}
          }
          serialization-settings.{{ControlSerializerName}} {
            preserve-object-references = true
            version-tolerance = true
          }
        }
        akka.remote.dot-netty.tcp {
          # One TCP connection per node pair: keep frames short so heartbeats are not stuck behind
          # multi-megabyte tensors. Large tensor messages are sent as TensorChunks of {{ChunkBytes}} bytes.
          maximum-frame-size = {{MaximumFrameBytes}}b
        }
        """;

    /// <summary>
    /// Serializer bindings and frame size for every node; use as the first element of the fallback chain
    /// (<c>SerializationConfig.Hocon.WithFallback(nodeConfig)</c>).
    /// </summary>
    public static Config Hocon { get; } = ConfigurationFactory.ParseString(HoconText);

    /// <summary>Returns <see cref="Hocon"/> with <paramref name="config"/> as fallback, so the serialization keys win.</summary>
    /// <param name="config">The node's own configuration.</param>
    public static Config WithSerialization(this Config config) => Hocon.WithFallback(config);
}
