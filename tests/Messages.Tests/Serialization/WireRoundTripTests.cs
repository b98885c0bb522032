using Akka.Actor;
using Akka.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>
/// A round trip for every wire message through the ActorSystem's serialization, with the project's
/// HOCON on a remoting node (so actor refs are written as remote paths and resolved back).
/// </summary>
public sealed class WireRoundTripTests(RemoteSystemFixture fixture) : IClassFixture<RemoteSystemFixture>
{
    private readonly ActorSystem _sys = fixture.System;

    internal static object RoundTrip(ActorSystem system, object message, out Serializer serializer)
    {
        serializer = system.Serialization.FindSerializerFor(message);
        byte[] bytes = serializer.ToBinary(message);
        string manifest = AkkaSerialization.ManifestFor(serializer, message);
        return system.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
    }

    [Fact]
    public void Every_protocol_message_type_has_a_round_trip_sample()
    {
        var sampled = WireTestSupport.Samples.Values.Select(f => f([]).GetType()).ToHashSet();
        var missing = WireTestSupport.ProtocolMessageTypes().Where(t => !sampled.Contains(t)).Select(t => t.Name).ToList();
        Assert.True(missing.Count == 0, "No round-trip sample for: " + string.Join(", ", missing));
    }

    [Theory]
    [MemberData(nameof(WireTestSupport.ControlMessageNames), MemberType = typeof(WireTestSupport))]
    public void Control_message_round_trips_through_restricted_hyperion(string name)
    {
        var message = WireTestSupport.Samples[name](fixture.Actors);

        var copy = RoundTrip(_sys, message, out var serializer);

        Assert.IsType<ControlMessageSerializer>(serializer);
        Assert.IsAssignableFrom<HyperionSerializer>(serializer);
        Assert.NotSame(message, copy);
        WireTestSupport.AssertDeepEqual(message, copy);
    }

    [Theory]
    [MemberData(nameof(WireTestSupport.TensorMessageNames), MemberType = typeof(WireTestSupport))]
    public void Tensor_message_round_trips_through_the_messagepack_serializer(string name)
    {
        var message = WireTestSupport.Samples[name]([]);

        var copy = RoundTrip(_sys, message, out var serializer);

        Assert.IsType<TensorMessageSerializer>(serializer);
        Assert.Equal(TensorMessageSerializer.SerializerIdentifier, serializer.Identifier);
        Assert.Equal(TensorCodec.ManifestOf(message), AkkaSerialization.ManifestFor(serializer, message));
        WireTestSupport.AssertDeepEqual(message, copy);
    }

    [Fact]
    public void Lists_built_with_collection_expressions_are_sent_as_arrays()
    {
        IEnumerable<IActorRef> workers = fixture.Actors;
        IEnumerable<ShardTiming> timings = [new("worker-1", 10, 1.5)];
        var messages = new object[]
        {
            new StartRun("run-1", WireTestSupport.Plan(), [.. workers]),
            new WorkersChanged("run-1", [.. workers]),
            new StepCompleted("run-1", 1, 1, 0.5, 1, 10, [.. timings], 0, 0),
        };
        // The compiler puts its own list type (<>z__ReadOnlyArray, defined in this test assembly) in these fields.
        Assert.False(((StartRun)messages[0]).Workers.GetType().IsArray);
        Assert.False(((StepCompleted)messages[2]).Timings.GetType().IsArray);

        foreach (var message in messages)
        {
            var copy = RoundTrip(_sys, message, out _);
            WireTestSupport.AssertDeepEqual(message, copy);
        }
    }

    [Fact]
    public void System_object_is_not_bound_to_hyperion()
    {
        Assert.IsNotAssignableFrom<HyperionSerializer>(_sys.Serialization.FindSerializerForType(typeof(object)));
        Assert.IsNotAssignableFrom<HyperionSerializer>(_sys.Serialization.FindSerializerForType(typeof(Version)));
        Assert.IsNotAssignableFrom<HyperionSerializer>(_sys.Serialization.FindSerializerForType(typeof(ShardTiming)));
    }

    [Fact]
    public void Unknown_tensor_manifest_is_a_serialization_exception()
    {
        var bytes = TensorCodec.ToBytes(WireTestSupport.Samples[nameof(WeightsUpdated)]([]));
        var ex = Assert.Throws<System.Runtime.Serialization.SerializationException>(
            () => _sys.Serialization.Deserialize(bytes, TensorMessageSerializer.SerializerIdentifier, "XX"));
        Assert.Contains("Unknown tensor message manifest", ex.Message);
    }

    [Fact]
    public void Frame_size_and_bindings_come_from_the_serialization_hocon()
    {
        var config = _sys.Settings.Config;
        Assert.Equal(SerializationConfig.MaximumFrameBytes, config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
        Assert.True(SerializationConfig.ChunkBytes + 64 * 1024 <= SerializationConfig.DirectSendLimitBytes);
        Assert.Equal("hyperion", config.GetString("akka.actor.serialization-bindings.\"Distributed.Messages.Protocol.IControlMessage, Distributed.Messages\""));
        Assert.Equal("tensor", config.GetString("akka.actor.serialization-bindings.\"Distributed.Messages.Protocol.ITensorMessage, Distributed.Messages\""));
    }
}
