using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using DisabledTypeFilter = Hyperion.DisabledTypeFilter;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>
/// The control-message Hyperion must refuse to instantiate anything outside the protocol, even when
/// the bytes were produced by an unrestricted Hyperion (i.e. by an attacker).
/// </summary>
public sealed class HyperionRestrictionTests : IClassFixture<RemoteSystemFixture>
{
    private readonly HyperionSerializer _unrestricted;
    private readonly Serializer _restricted;

    public HyperionRestrictionTests(RemoteSystemFixture fixture)
    {
        var sys = fixture.System;
        var defaults = HyperionSerializerSettings.Default;
        _unrestricted = new HyperionSerializer((ExtendedActorSystem)sys, new HyperionSerializerSettings(
            preserveObjectReferences: true, versionTolerance: true, knownTypesProvider: defaults.KnownTypesProvider,
            packageNameOverrides: [], surrogates: [], disallowUnsafeType: false, typeFilter: DisabledTypeFilter.Instance));
        _restricted = sys.Serialization.FindSerializerFor(new GetWeights("run-1"));
    }

    /// <summary>A type from outside the protocol with an observable side effect, should it ever be constructed.</summary>
    public sealed class Gadget
    {
        public static int Constructed;

        public Gadget() => Interlocked.Increment(ref Constructed);

        public string Command { get; set; } = "rm -rf /";
    }

    /// <summary>A list type from outside the protocol, smuggled into an allowed message's IReadOnlyList field.</summary>
    public sealed class SneakyList : List<ShardTiming>;

    private void AssertRefused(object payload)
    {
        byte[] crafted = _unrestricted.ToBinary(payload);
        Assert.NotEmpty(crafted);
        var ex = Assert.Throws<SerializationException>(() => _restricted.FromBinary(crafted, typeof(object)));
        // Refused by the type filter while reading (Hyperion's [User]EvilDeserializationException), not after the fact.
        var chain = new List<string>();
        for (Exception? e = ex; e is not null; e = e.InnerException)
            chain.Add(e.GetType().Name + ": " + e.Message);
        Assert.True(chain.Any(c => c.Contains("EvilDeserializationException")), string.Join(" <- ", chain));
    }

    [Fact]
    public void The_control_serializer_is_the_restricted_hyperion()
    {
        Assert.IsType<ControlMessageSerializer>(_restricted);
        Assert.Equal(_unrestricted.Identifier, _restricted.Identifier);
    }

    [Fact]
    public void FileInfo_crafted_by_an_unrestricted_hyperion_is_refused() =>
        AssertRefused(new FileInfo("/etc/passwd"));

    [Fact]
    public void A_delegate_is_refused() =>
        AssertRefused(new Func<string>(Environment.GetLogicalDrives().First));

    [Fact]
    public void A_foreign_class_is_refused_and_never_constructed()
    {
        int before = Gadget.Constructed;
        var gadget = new Gadget();
        AssertRefused(gadget);
        Assert.Equal(before + 1, Gadget.Constructed); // only the one built above
    }

    [Fact]
    public void Framework_types_outside_the_allow_list_are_refused()
    {
        AssertRefused(new Version(1, 2, 3));
        AssertRefused(new Dictionary<string, string> { ["a"] = "b" });
        AssertRefused(new List<string> { "a" });
    }

    [Fact]
    public void A_bare_system_object_is_refused_because_it_is_not_a_control_message()
    {
        // Hyperion has a built-in codec for System.Object (no type name to filter); the serializer's
        // final check that the result is an IControlMessage catches it.
        byte[] crafted = _unrestricted.ToBinary(new object());
        var ex = Assert.Throws<SerializationException>(() => _restricted.FromBinary(crafted, typeof(object)));
        Assert.Contains("not an IControlMessage", ex.Message);
    }

    [Fact]
    public void A_tensor_message_is_not_accepted_through_hyperion() =>
        AssertRefused(new WeightsUpdated("run-1", 1, 1, [1f, 2f], []));

    [Fact]
    public void A_foreign_type_nested_inside_an_allowed_message_is_refused()
    {
        var timings = new SneakyList { new("worker-1", 1, 1.0) };
        AssertRefused(new StepCompleted("run-1", 1, 1, 0.5, 1, 1, timings, 0, 0));
    }

    [Fact]
    public void The_restricted_serializer_refuses_to_write_foreign_types()
    {
        Assert.Throws<SerializationException>(() => _restricted.ToBinary(new Version(1, 0)));
        Assert.Throws<SerializationException>(() => _restricted.ToBinary(new ShardTiming("w", 1, 1)));
    }

    [Fact]
    public void Garbage_bytes_are_a_serialization_exception()
    {
        var random = new Random(7);
        byte[] valid = _restricted.ToBinary(WireTestSupport.Samples[nameof(StepCompleted)]([]));
        for (int i = 0; i < 100; i++)
        {
            byte[] corrupt = (byte[])valid.Clone();
            corrupt[random.Next(corrupt.Length)] ^= (byte)(1 << random.Next(8));
            try
            {
                var result = _restricted.FromBinary(corrupt, typeof(object));
                Assert.IsAssignableFrom<IControlMessage>(result);
            }
            catch (SerializationException)
            {
                // expected for most corruptions
            }
        }

        Assert.Throws<SerializationException>(() => _restricted.FromBinary([], typeof(object)));
        Assert.Throws<SerializationException>(() => _restricted.FromBinary(valid[..(valid.Length / 2)], typeof(object)));
    }

    [Fact]
    public void The_allow_list_holds_only_protocol_types_their_collections_and_the_actor_ref_surrogate()
    {
        var filter = ProtocolTypeFilter.Instance;
        Assert.Empty(filter.UnsupportedMembers);
        foreach (var type in filter.AllowedTypes)
        {
            var core = type.IsArray ? type.GetElementType()! : type.IsGenericType ? type.GetGenericArguments()[0] : type;
            bool ok = core.Namespace == "Distributed.Messages.Protocol"
                      || core == typeof(IActorRef) || core == typeof(ActorRefBase.Surrogate) || core.IsPrimitive;
            Assert.True(ok, $"Unexpected allowed type {type}");
            Assert.False(typeof(ITensorMessage).IsAssignableFrom(core), $"Tensor message {type} must not go through Hyperion");
        }

        Assert.False(filter.IsAllowed(typeof(object).AssemblyQualifiedName!));
        Assert.False(filter.IsAllowed("System.Object, System.Private.CoreLib,%core%"));
        Assert.False(filter.IsAllowed("System.IO.FileInfo, System.Private.CoreLib,%core%"));
        Assert.False(filter.IsAllowed(""));
        Assert.True(filter.IsAllowed("Distributed.Messages.Protocol.StartRun, Distributed.Messages"));
        Assert.True(filter.IsAllowed(typeof(StartRun).AssemblyQualifiedName!));
    }
}
