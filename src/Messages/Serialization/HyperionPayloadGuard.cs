using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Reflection;
using System.Runtime.Serialization;
using System.Text;

namespace Distributed.Messages.Serialization;

/// <summary>
/// Walks a Hyperion payload the way Hyperion 0.12 will read it, without allocating anything the bytes
/// declare, and refuses it before Hyperion sees it if any declared length exceeds the bytes that
/// follow, the nesting is deeper than <see cref="MaxDepth"/> or the payload is larger than
/// <see cref="MaxPayloadBytes"/>. At the first type name outside <see cref="ProtocolTypeFilter"/> the
/// walk stops and leaves the refusal to Hyperion's filter, which rejects the name before reading on.
/// </summary>
/// <remarks>
/// <para>
/// Why this exists: Hyperion trusts every length prefix. A string (<c>session.GetBuffer(length)</c>),
/// a <c>byte[]</c> and a type or field name (<c>new byte[length]</c>), and an array
/// (<c>Array.CreateInstance(elementType, length)</c>, then a buffer of <c>length × size</c>) are
/// allocated at the declared size before a single byte of content is read, and the built-in codecs
/// are chosen by the manifest byte before the type filter is ever consulted. An 11-byte payload
/// therefore makes Hyperion allocate gigabytes (or throw <see cref="OutOfMemoryException"/>), and a
/// few kilobytes of nested manifests recurse until the stack overflows, which kills the process.
/// Hyperion has no option to bound either, and its session buffer is not virtual, so the bounds are
/// checked here, on the bytes, first.
/// </para>
/// <para>
/// The walk mirrors Hyperion 0.12.2's reader: a value is a manifest byte and its body; built-in
/// manifests 0–20 have fixed or length-prefixed bodies; 251/255 name a type (251 also lists field
/// names), 254 refers to a type named earlier in the payload, 252 is an array of a built-in element
/// type, 253 a back-reference. An object's body is one value per field in
/// <c>GetFieldInfosForType</c> order (with version tolerance off, Hyperion-primitive fields carry no
/// manifest); arrays and lists are a count and that many values. Payloads Hyperion would reject
/// anyway may be rejected here with a different message; payloads Hyperion accepts are never refused
/// (the wire tests round-trip every protocol message through this guard).
/// </para>
/// </remarks>
internal static class HyperionPayloadGuard
{
    /// <summary>
    /// Largest control-message payload accepted: Akka.Remote's frame (<see cref="SerializationConfig.MaximumFrameBytes"/>),
    /// which no control message comes near.
    /// </summary>
    public const int MaxPayloadBytes = SerializationConfig.MaximumFrameBytes;

    /// <summary>
    /// Deepest nesting of values accepted. The protocol's deepest path (a message, a list, a record,
    /// a field) is 4 levels; Hyperion needs far more stack per level than this walk.
    /// </summary>
    public const int MaxDepth = 32;

    private const byte NullManifest = 0, SystemObjectManifest = 1, StringManifest = 7, ByteArrayManifest = 9, TypeManifest = 16;
    private const byte VersionManifest = 251, ConsistentArrayManifest = 252, ReferenceManifest = 253, IndexManifest = 254, FullManifest = 255;

    // Body sizes of the fixed-size built-in manifests (Int64 2, Int16 3, Byte 4, DateTime 5, Bool 6,
    // Int32 8, DateTimeOffset 10, Guid 11, Float 12, Double 13, Decimal 14, Char 15, UInt16 17,
    // UInt32 18, UInt64 19, SByte 20); 0 marks the manifests with another body or none.
    private static readonly int[] FixedBodyBytes = BuildFixedBodyBytes();

    // Element types of those manifests, for the 252 array (its element codec is named by a manifest).
    private static readonly Type?[] ManifestElementTypes = BuildManifestElementTypes();

    private static readonly FrozenDictionary<string, Type> AllowedByShortName =
        ProtocolTypeFilter.Instance.AllowedTypes.ToFrozenDictionary(t => ProtocolTypeFilter.Normalize(t.AssemblyQualifiedName!), StringComparer.Ordinal);

    private static readonly ConcurrentDictionary<Type, Type[]> FieldTypes = new();

    /// <summary>Throws unless Hyperion can read <paramref name="bytes"/> within the bounds above.</summary>
    /// <param name="bytes">The payload as received.</param>
    /// <param name="versionTolerance">The serializer's <c>version-tolerance</c> setting, which changes the layout of objects.</param>
    /// <exception cref="SerializationException">The payload is oversized, truncated, too deep, names a foreign type or declares a length it does not contain.</exception>
    public static void Check(ReadOnlySpan<byte> bytes, bool versionTolerance)
    {
        if (bytes.Length > MaxPayloadBytes)
            throw Refused($"{bytes.Length} bytes, more than the limit of {MaxPayloadBytes}");
        var walk = new Walk(bytes, versionTolerance);
        try
        {
            walk.Value(depth: 1);
        }
        catch (ForeignType)
        {
            // Hyperion refuses the name itself, through ProtocolTypeFilter, before it reads another
            // byte; its EvilDeserializationException says more than this walk could.
            return;
        }
        if (walk.Position != bytes.Length)
            throw Refused($"{bytes.Length - walk.Position} trailing bytes after the message");
    }

    /// <summary>The walk reached a type name the filter refuses: everything before it was within bounds.</summary>
    private sealed class ForeignType : Exception;

    private ref struct Walk(ReadOnlySpan<byte> bytes, bool versionTolerance)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private List<Type>? _types; // the session's type table, in the order 251/255 manifests name them

        public int Position { get; private set; }

        private readonly int Remaining => _bytes.Length - Position;

        /// <summary>A value preceded by its manifest (Hyperion's <c>ReadObject</c>).</summary>
        public void Value(int depth)
        {
            if (depth > MaxDepth)
                throw Refused($"values nested more than {MaxDepth} deep at byte {Position}");
            byte manifest = Byte();
            switch (manifest)
            {
                case NullManifest or SystemObjectManifest:
                    return;
                case StringManifest:
                    String();
                    return;
                case ByteArrayManifest:
                    Skip(Length("byte array"));
                    return;
                case TypeManifest:
                    TypeValue();
                    return;
                case ConsistentArrayManifest:
                    ConsistentArray(depth);
                    return;
                case ReferenceManifest:
                    Skip(4); // an index into the objects already read; nothing is allocated
                    return;
                case FullManifest or VersionManifest or IndexManifest:
                    Body(TypeFromManifest(manifest), depth);
                    return;
                default:
                    if (FixedBodyBytes[manifest] == 0)
                        throw Refused($"unknown manifest {manifest} at byte {Position - 1}");
                    Skip(FixedBodyBytes[manifest]);
                    return;
            }
        }

        private Type TypeFromManifest(byte manifest)
        {
            if (manifest == IndexManifest)
            {
                int index = BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
                // The default known-types provider of Akka.Serialization.Hyperion lists none, so every
                // index refers to a type named earlier in this payload.
                return _types is not null && index < _types.Count
                    ? _types[index]
                    : throw Refused($"type index {index} refers to no type named before byte {Position}");
            }

            var type = NamedType();
            if (manifest == VersionManifest)
            {
                int fields = Byte();
                for (int i = 0; i < fields; i++)
                    Skip(Length("field name"));
            }
            (_types ??= []).Add(type);
            return type;
        }

        private Type NamedType()
        {
            int length = Length("type name");
            string name;
            try { name = new UTF8Encoding(false, true).GetString(Take(length)); }
            catch (DecoderFallbackException) { throw Refused($"a type name that is not UTF-8 before byte {Position}"); }
            if (!ProtocolTypeFilter.Instance.IsAllowed(name) || !AllowedByShortName.TryGetValue(ProtocolTypeFilter.Normalize(name), out var type))
                throw new ForeignType();
            return type;
        }

        /// <summary>An object's body, laid out as the codec Hyperion picks for <paramref name="type"/> reads it.</summary>
        private void Body(Type type, int depth)
        {
            if (type.IsArray)
            {
                if (IsHyperionPrimitive(type.GetElementType()!))
                {
                    ConsistentArray(depth); // a named primitive array is read by the same codec as manifest 252
                    return;
                }
                Elements(depth, "array");
                return;
            }
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
            {
                Elements(depth, "list");
                return;
            }

            // Records, TimeSpan and the actor-ref surrogate alike: every field, in Hyperion's order.
            foreach (var field in FieldTypes.GetOrAdd(type, HyperionFieldTypes))
            {
                if (!versionTolerance && IsHyperionPrimitive(field))
                    Primitive(field);
                else
                    Value(depth + 1);
            }
        }

        private void Elements(int depth, string what)
        {
            int count = Length(what); // every element takes at least its manifest byte
            for (int i = 0; i < count; i++)
                Value(depth + 1);
        }

        /// <summary>Manifest 252: an element codec (itself a manifest), a count, then the elements without manifests.</summary>
        private void ConsistentArray(int depth)
        {
            if (depth + 1 > MaxDepth)
                throw Refused($"values nested more than {MaxDepth} deep at byte {Position}");
            byte manifest = Byte();
            Type? element = manifest switch
            {
                FullManifest or VersionManifest or IndexManifest => TypeFromManifest(manifest),
                _ => ManifestElementTypes[manifest],
            };
            if (element is null || element.IsArray && IsHyperionPrimitive(element.GetElementType()!))
                throw Refused($"array of manifest {manifest} at byte {Position - 1}, which Hyperion cannot read");

            int count = Int32("array length");
            if (count < 0)
                throw Refused($"array length {count} at byte {Position - 4}");
            if (FixedElementBytes(element) is > 0 and var size)
            {
                // Hyperion computes size × count in 32 bits and allocates both the array and a buffer that large.
                if ((long)count * size > Remaining)
                    throw Refused($"an array of {count} × {size} bytes declared at byte {Position - 4} but only {Remaining} bytes remain");
                Skip(count * size);
                return;
            }
            if (count > Remaining)
                throw Refused($"an array of {count} elements declared at byte {Position - 4} but only {Remaining} bytes remain");
            for (int i = 0; i < count; i++)
            {
                if (manifest is FullManifest or VersionManifest or IndexManifest)
                    Body(element, depth + 1);
                else
                    ElementBody(manifest, depth + 1);
            }
        }

        private void ElementBody(byte manifest, int depth)
        {
            switch (manifest)
            {
                case SystemObjectManifest: return;
                case StringManifest: String(); return;
                case ByteArrayManifest: Skip(Length("byte array")); return;
                case TypeManifest: TypeValue(); return;
                default:
                    if (FixedBodyBytes[manifest] == 0)
                        throw Refused($"array element manifest {manifest} at depth {depth}");
                    Skip(FixedBodyBytes[manifest]);
                    return;
            }
        }

        /// <summary>A field of a Hyperion-primitive type written without a manifest (version tolerance off).</summary>
        private void Primitive(Type type)
        {
            if (type == typeof(string))
            {
                String();
                return;
            }
            int manifest = Array.IndexOf(ManifestElementTypes, type);
            Skip(FixedBodyBytes[manifest]);
        }

        /// <summary>Hyperion's string: 0 for null, 255 then an int32 length, or the length plus one.</summary>
        private void String()
        {
            int first = Byte();
            if (first == 0) return;
            Skip(first == 255 ? Length("string") : first - 1);
        }

        /// <summary>A <see cref="Type"/> value: a name in the string layout, loaded through the type filter.</summary>
        private void TypeValue()
        {
            int first = Byte();
            if (first == 0) return;
            int length = first == 255 ? Length("type name") : first - 1;
            string name = Encoding.UTF8.GetString(Take(length));
            if (!ProtocolTypeFilter.Instance.IsAllowed(name))
                throw new ForeignType();
        }

        /// <summary>An int32 length that must fit in what remains (each counted item takes at least one byte).</summary>
        private int Length(string what)
        {
            int length = Int32(what + " length");
            if (length < 0 || length > Remaining)
                throw Refused($"{what} of {(uint)length} bytes declared at byte {Position - 4} but only {Remaining} bytes remain");
            return length;
        }

        private int Int32(string what)
        {
            if (Remaining < 4)
                throw Refused($"truncated {what} at byte {Position}");
            return BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        }

        private byte Byte() => Remaining >= 1 ? Take(1)[0] : throw Refused($"truncated at byte {Position}");

        private void Skip(int count) => Take(count);

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count > Remaining)
                throw Refused($"truncated: {count} bytes needed at byte {Position} but only {Remaining} remain");
            var span = _bytes.Slice(Position, count);
            Position += count;
            return span;
        }
    }

    // Hyperion's GetFieldInfosForType: instance fields of the type and its bases, minus [Ignore],
    // IntPtr/UIntPtr and _syncRoot, ordered by name.
    private static Type[] HyperionFieldTypes(Type type)
    {
        var fields = new List<FieldInfo>();
        for (var t = type; t is not null; t = t.BaseType)
        {
            fields.AddRange(t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                .Where(f => !f.IsDefined(typeof(Hyperion.IgnoreAttribute)) && f.FieldType != typeof(IntPtr)
                            && f.FieldType != typeof(UIntPtr) && f.Name != "_syncRoot"));
        }
        return [.. fields.OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => f.FieldType)];
    }

    private static bool IsHyperionPrimitive(Type type) =>
        type == typeof(string) || (Array.IndexOf(ManifestElementTypes, type) is var i && i > 0 && FixedBodyBytes[i] > 0);

    // Hyperion's IsFixedSizeType: the element types a 252 array copies in one block.
    private static int FixedElementBytes(Type type) =>
        type == typeof(short) || type == typeof(ushort) || type == typeof(char) ? 2
        : type == typeof(int) || type == typeof(uint) ? 4
        : type == typeof(long) || type == typeof(ulong) ? 8
        : type == typeof(bool) ? 1
        : 0;

    private static int[] BuildFixedBodyBytes()
    {
        var sizes = new int[256];
        (int Manifest, int Bytes)[] table = [(2, 8), (3, 2), (4, 1), (5, 9), (6, 1), (8, 4), (10, 16), (11, 16), (12, 4), (13, 8), (14, 16), (15, 2), (17, 2), (18, 4), (19, 8), (20, 1)];
        foreach (var (manifest, bytes) in table) sizes[manifest] = bytes;
        return sizes;
    }

    private static Type?[] BuildManifestElementTypes()
    {
        var types = new Type?[256];
        types[SystemObjectManifest] = typeof(object);
        types[2] = typeof(long); types[3] = typeof(short); types[4] = typeof(byte); types[5] = typeof(DateTime);
        types[6] = typeof(bool); types[StringManifest] = typeof(string); types[8] = typeof(int); types[ByteArrayManifest] = typeof(byte[]);
        types[10] = typeof(DateTimeOffset); types[11] = typeof(Guid); types[12] = typeof(float); types[13] = typeof(double);
        types[14] = typeof(decimal); types[15] = typeof(char); types[TypeManifest] = typeof(Type); types[17] = typeof(ushort);
        types[18] = typeof(uint); types[19] = typeof(ulong); types[20] = typeof(sbyte);
        return types;
    }

    private static SerializationException Refused(string detail) =>
        new($"Control message refused before decoding: {detail}.");
}
