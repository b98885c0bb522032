using Akka.Actor;
using Akka.Serialization;
using Distributed.Messages.Protocol;

namespace Distributed.Messages.Serialization;

/// <summary>
/// Akka serializer for every <see cref="ITensorMessage"/> (bound in <see cref="SerializationConfig.Hocon"/>):
/// hand-written MessagePack with numeric arrays as raw little-endian bin blocks. The format and its
/// validation live in <see cref="TensorCodec"/>; this class only adapts it to Akka.
/// </summary>
/// <remarks>
/// Malformed input and unknown manifests throw <see cref="System.Runtime.Serialization.SerializationException"/>,
/// which Akka.Remote logs and drops without tearing down the association.
/// </remarks>
public sealed class TensorMessageSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer identifier on the wire (0–100 are reserved by Akka).</summary>
    public const int SerializerIdentifier = 701;

    /// <summary>Created by Akka from the <c>akka.actor.serializers</c> configuration.</summary>
    /// <param name="system">The actor system the serializer belongs to.</param>
    public TensorMessageSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    /// <inheritdoc />
    public override int Identifier => SerializerIdentifier;

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) => TensorCodec.ToBytes(obj);

    /// <inheritdoc />
    public override string Manifest(object o) => TensorCodec.ManifestOf(o);

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest) => TensorCodec.Decode(manifest, bytes);
}
