using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text;
using Akka.Serialization;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Distributed.Tests.Fuzzing;
using Xunit.Abstractions;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>
/// Hostile input for the restricted Hyperion: mutated encodings of every control message, Hyperion
/// length fields overwritten with gigabytes, random bytes, and crafted payloads that declare huge
/// strings, arrays and names or nest deeper than any stack. All must be a SerializationException
/// without allocating what they declare.
/// </summary>
public sealed class ControlMessageFuzzTests(RemoteSystemFixture fixture, ITestOutputHelper output) : IClassFixture<RemoteSystemFixture>
{
    private readonly Serializer _serializer = fixture.System.Serialization.FindSerializerFor(new GetWeights("run-1"));

    // Manifests followed by a little-endian int32 length: byte[] 9, type names 255 and 251.
    private static readonly Mutator HyperionMutator = new(BigEndian: false, Markers: [9, 251, 255]);

    private byte[][] ValidEncodings() =>
    [
        .. WireTestSupport.ControlMessageNames()
            .Select(row => _serializer.ToBinary(WireTestSupport.Samples[(string)row[0]](fixture.Actors))),
    ];

    private static string ShortName(Type type) => ProtocolTypeFilter.Normalize(type.AssemblyQualifiedName!);

    private static byte[] Int32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] TypeManifest(Type type)
    {
        byte[] name = Encoding.UTF8.GetBytes(ShortName(type));
        return [255, .. Int32(name.Length), .. name];
    }

    /// <summary>Overwrites a Hyperion length where the layout puts one: after 9/255/251, after 252's element manifest, or a string's 255 escape.</summary>
    private static (byte[], string) StructuredLengthAttack(Random random, byte[] valid)
    {
        var bytes = (byte[])valid.Clone();
        int at = random.Next(bytes.Length);
        int huge = unchecked((int)Mutator.HugeLengths[random.Next(Mutator.HugeLengths.Length)]);
        for (int i = 0; i < bytes.Length - 6; i++)
        {
            int p = (at + i) % (bytes.Length - 6);
            switch (bytes[p])
            {
                case 252:
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(p + 2), huge);
                    return (bytes, "hyperion-array-length");
                case 7:
                    bytes[p + 1] = 255;
                    return ([.. bytes[..(p + 2)], .. Int32(huge), .. bytes[(p + 2)..]], "hyperion-string-length");
                case 9 or 251 or 255:
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(p + 1), huge);
                    return (bytes, "hyperion-name-length");
            }
        }
        return (bytes, "hyperion-none");
    }

    [Fact]
    public void Random_and_mutated_payloads_are_rejected_with_SerializationException()
    {
        var valid = ValidEncodings();
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "ControlMessageSerializer.FromBinary (restricted Hyperion)",
            Seed = 424242,
            Cases = 20_000,
            Generate = random =>
            {
                int roll = random.Next(100);
                if (roll < 5) return (Mutator.RandomBytes(random, random.Next(0, 200)), "random-bytes");
                if (roll < 8) return (valid[random.Next(valid.Length)], "valid");
                if (roll < 30) return StructuredLengthAttack(random, valid[random.Next(valid.Length)]);
                return HyperionMutator.Mutate(random, valid);
            },
            Decode = bytes => Assert.IsAssignableFrom<IControlMessage>(_serializer.FromBinary(bytes, typeof(object))),
            Expected = [typeof(SerializationException)],
            Warmup = valid,
            // Hyperion builds a reader for a type on first use; mutated names load types the samples never did.
            AllocationBound = input => 16L * input.Length + (4 << 20),
        }, output);
    }

    public static TheoryData<string, string> HugeDeclarations()
    {
        byte[] timings = TypeManifest(typeof(ShardTiming[]));
        byte[] list = TypeManifest(typeof(List<ShardTiming>));
        return new()
        {
            { "byte[] of 2 GB", Convert.ToHexString([9, .. Int32(int.MaxValue)]) },
            { "string of 2 GB", Convert.ToHexString([7, 255, .. Int32(int.MaxValue - 8)]) },
            { "negative string length", Convert.ToHexString([7, 255, .. Int32(-1)]) },
            { "int[] of 512 M elements", Convert.ToHexString([252, 8, .. Int32(0x2000_0000)]) },
            { "long[] whose byte size overflows int", Convert.ToHexString([252, 2, .. Int32(0x4000_0000)]) },
            { "object[] of 2 G elements", Convert.ToHexString([252, 1, .. Int32(int.MaxValue)]) },
            { "type name of 2 GB", Convert.ToHexString([255, .. Int32(int.MaxValue)]) },
            { "field name of 2 GB", Convert.ToHexString([251, .. timings[1..], 1, .. Int32(int.MaxValue)]) },
            { "ShardTiming[] of 2 G elements", Convert.ToHexString([.. timings, .. Int32(int.MaxValue)]) },
            { "List<ShardTiming> of 2 G items", Convert.ToHexString([.. list, .. Int32(int.MaxValue)]) },
            { "Type value named by 2 GB", Convert.ToHexString([16, 255, .. Int32(int.MaxValue)]) },
            { "unknown manifest", "c8" },
        };
    }

    [Theory]
    [MemberData(nameof(HugeDeclarations))]
    public void A_tiny_payload_declaring_gigabytes_is_rejected_without_allocating_them(string what, string hex)
    {
        byte[] payload = Convert.FromHexString(hex);
        Assert.Throws<SerializationException>(() => _serializer.FromBinary(payload, typeof(object))); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<SerializationException>(() => _serializer.FromBinary(payload, typeof(object)));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1 << 20, $"{what}: allocated {allocated:N0} bytes for a {payload.Length}-byte payload ({e.Message})");
        Assert.StartsWith("Control message refused before decoding", e.Message);
    }

    [Fact]
    public void A_payload_nested_100000_deep_is_refused_before_Hyperion_recurses()
    {
        // ShardTiming[] holding one ShardTiming[] holding one ... : 7 bytes a level, ~700 KB in all.
        // Hyperion reads each element before it checks its type, so it would recurse 100,000 times
        // and overflow the stack, which no catch survives.
        var bytes = new List<byte>(TypeManifest(typeof(ShardTiming[])));
        bytes.AddRange(Int32(1));
        for (int i = 0; i < 100_000; i++)
        {
            bytes.AddRange([254, 0, 0]);
            bytes.AddRange(Int32(1));
        }
        bytes.Add(0);
        var e = Assert.Throws<SerializationException>(() => _serializer.FromBinary([.. bytes], typeof(object)));
        Assert.Contains($"nested more than {HyperionPayloadGuard.MaxDepth} deep", e.Message);
    }

    [Fact]
    public void A_payload_larger_than_a_remoting_frame_is_refused()
    {
        var e = Assert.Throws<SerializationException>(() => _serializer.FromBinary(new byte[HyperionPayloadGuard.MaxPayloadBytes + 1], typeof(object)));
        Assert.Contains("more than the limit", e.Message);
    }

    [Fact]
    public void Every_control_message_passes_the_guard_unchanged()
    {
        foreach (var bytes in ValidEncodings())
        {
            HyperionPayloadGuard.Check(bytes, versionTolerance: true);
            Assert.IsAssignableFrom<IControlMessage>(_serializer.FromBinary(bytes, typeof(object)));
        }
    }

    [Fact]
    public void Without_version_tolerance_the_guard_reads_primitive_fields_without_manifests()
    {
        var settings = new HyperionSerializerSettings(preserveObjectReferences: true, versionTolerance: false,
            knownTypesProvider: HyperionSerializerSettings.Default.KnownTypesProvider, packageNameOverrides: [], surrogates: [],
            disallowUnsafeType: true, typeFilter: ProtocolTypeFilter.Instance);
        var plain = new HyperionSerializer((Akka.Actor.ExtendedActorSystem)fixture.System, settings);
        foreach (var row in WireTestSupport.ControlMessageNames())
        {
            var message = WireTestSupport.Samples[(string)row[0]](fixture.Actors);
            HyperionPayloadGuard.Check(plain.ToBinary(WireCollections.Normalize(message)), versionTolerance: false);
        }
    }
}
