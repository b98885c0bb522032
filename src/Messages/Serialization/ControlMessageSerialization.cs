using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Serialization;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using Distributed.Messages.Protocol;
using Hyperion;

namespace Distributed.Messages.Serialization;

/// <summary>
/// Hyperion, restricted to the project's own control messages. Bound in <see cref="SerializationConfig.Hocon"/>
/// under the serializer name <c>hyperion</c>, so it is the only Hyperion instance in the system
/// (identifier −5, like the stock one).
/// </summary>
/// <remarks>
/// <para>
/// Hyperion writes the assembly-qualified name of every non-primitive object it serializes and, when
/// reading, loads the type named in the bytes. Unrestricted, a peer (or anyone who can reach the
/// remoting port) could make us instantiate any type on our probing path. This serializer passes
/// Hyperion a <see cref="ProtocolTypeFilter"/>, which Hyperion consults for every type name it loads
/// (and for the top-level type it writes), with <c>disallowUnsafeType = true</c> (the filter is only
/// consulted in that mode).
/// </para>
/// <para>
/// Why a subclass rather than <c>HyperionSerializerSetup.WithTypeFilter</c> or the HOCON
/// <c>allowed-types</c> list: in Akka.Serialization.Hyperion 1.5.73 the constructor builds the Hyperion
/// options from its <c>settings</c> argument, not from the setup-adjusted <c>Settings</c> field, so a
/// <c>HyperionSerializerSetup</c> type filter is silently ignored; and the built-in <c>TypeFilter</c> that
/// <c>allowed-types</c> produces compares short names on read but full assembly-qualified names on
/// write, so it rejects the very types it allows when serializing. Configuration under
/// <c>akka.actor.serialization-settings.hyperion</c> may set <c>preserve-object-references</c> and
/// <c>version-tolerance</c>; it cannot widen the filter.
/// </para>
/// <para>
/// The type filter does not bound sizes: Hyperion allocates strings, byte arrays, names and arrays
/// at whatever length the bytes declare, and recurses as deep as they nest. <see cref="FromBinary"/>
/// therefore runs <see cref="HyperionPayloadGuard"/> over the payload first.
/// </para>
/// </remarks>
public sealed class ControlMessageSerializer : HyperionSerializer
{
    /// <summary>Created by Akka when no <c>serialization-settings.hyperion</c> section exists.</summary>
    /// <param name="system">The actor system the serializer belongs to.</param>
    public ControlMessageSerializer(ExtendedActorSystem system) : this(system, CreateSettings(null))
    {
    }

    /// <summary>Created by Akka with the <c>akka.actor.serialization-settings.hyperion</c> section.</summary>
    /// <param name="system">The actor system the serializer belongs to.</param>
    /// <param name="config">The serializer's settings section.</param>
    public ControlMessageSerializer(ExtendedActorSystem system, Config config) : this(system, CreateSettings(config))
    {
    }

    // Hyperion is built from these settings (not from the setup-adjusted Settings field), so the
    // payload guard reads the layout flag from the same place.
    private ControlMessageSerializer(ExtendedActorSystem system, HyperionSerializerSettings settings) : base(system, settings) =>
        _versionTolerance = settings.VersionTolerance;

    private readonly bool _versionTolerance;

    /// <summary>
    /// The Hyperion settings this serializer uses: Hyperion's defaults (optionally
    /// <c>preserve-object-references</c> / <c>version-tolerance</c> from <paramref name="config"/>), no
    /// extra known types, package overrides or surrogates, unsafe types disallowed and
    /// <see cref="ProtocolTypeFilter.Instance"/> as the type filter.
    /// </summary>
    /// <param name="config">The <c>serialization-settings.hyperion</c> section, or null.</param>
    public static HyperionSerializerSettings CreateSettings(Config? config)
    {
        var defaults = HyperionSerializerSettings.Default;
        bool preserve = config?.GetBoolean("preserve-object-references", defaults.PreserveObjectReferences) ?? defaults.PreserveObjectReferences;
        bool tolerance = config?.GetBoolean("version-tolerance", defaults.VersionTolerance) ?? defaults.VersionTolerance;
        return new HyperionSerializerSettings(
            preserveObjectReferences: preserve,
            versionTolerance: tolerance,
            knownTypesProvider: defaults.KnownTypesProvider,
            packageNameOverrides: [],
            surrogates: [],
            disallowUnsafeType: true,
            typeFilter: ProtocolTypeFilter.Instance);
    }

    /// <inheritdoc />
    /// <exception cref="SerializationException">The object is not an <see cref="IControlMessage"/>.</exception>
    public override byte[] ToBinary(object obj)
    {
        if (obj is not IControlMessage)
            throw new SerializationException(
                $"{obj?.GetType().FullName ?? "null"} is not an IControlMessage; the restricted Hyperion serializer only writes the protocol's control messages.");
        return base.ToBinary(WireCollections.Normalize(obj));
    }

    /// <inheritdoc />
    /// <exception cref="SerializationException">The bytes name a type outside the allow-list, are malformed, declare a
    /// length they do not contain, nest too deeply, or do not decode to an <see cref="IControlMessage"/>.</exception>
    public override object FromBinary(byte[] bytes, Type type)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        // Hyperion allocates whatever a length prefix declares and recurses as deep as the bytes nest,
        // so the payload is checked against both before Hyperion reads it (see HyperionPayloadGuard).
        HyperionPayloadGuard.Check(bytes, _versionTolerance);
        object result = base.FromBinary(bytes, type); // wraps Hyperion's errors (including filter rejections) in SerializationException
        return result as IControlMessage
               ?? throw new SerializationException(
                   $"Decoded a {result?.GetType().FullName ?? "null"}, which is not an IControlMessage; dropped.");
    }
}

/// <summary>
/// Rewrites <c>IReadOnlyList&lt;T&gt;</c> fields whose runtime type is neither <c>T[]</c> nor
/// <see cref="List{T}"/> (e.g. the compiler-generated <c>&lt;&gt;z__ReadOnlyArray&lt;T&gt;</c> that a collection
/// expression such as <c>[.. workers]</c> produces, which lives in the sender's assembly and which
/// <see cref="ProtocolTypeFilter"/> refuses) into <c>T[]</c> on a shallow copy of the message, before
/// Hyperion writes it. Nested protocol records are normalised too; list elements are not.
/// </summary>
internal static class WireCollections
{
    private static readonly ConcurrentDictionary<Type, FieldInfo[]> Fields = new();

    public static object Normalize(object message)
    {
        var fields = Fields.GetOrAdd(message.GetType(), RelevantFields);
        if (fields.Length == 0)
            return message;

        object? copy = null;
        foreach (var field in fields)
        {
            object? value = field.GetValue(message);
            if (value is null)
                continue;
            object normalized = IsListField(field.FieldType) ? ToWireList(value, field.FieldType) : Normalize(value);
            if (ReferenceEquals(normalized, value))
                continue;
            copy ??= ShallowCopy(message);
            field.SetValue(copy, normalized);
        }

        return copy ?? message;
    }

    private static FieldInfo[] RelevantFields(Type type)
    {
        var result = new List<FieldInfo>();
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
        {
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                var ft = field.FieldType;
                bool nestedRecord = ft.IsClass && ft != typeof(string) && !ft.IsArray
                                    && ft.Assembly == typeof(IControlMessage).Assembly && ft.Namespace == typeof(IControlMessage).Namespace;
                if (IsListField(ft) || nestedRecord)
                    result.Add(field);
            }
        }

        return [.. result];
    }

    private static bool IsListField(Type type) =>
        type.IsGenericType && !type.IsArray
        && (type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) || type.GetGenericTypeDefinition() == typeof(IReadOnlyCollection<>)
            || type.GetGenericTypeDefinition() == typeof(IEnumerable<>) || type.GetGenericTypeDefinition() == typeof(IList<>));

    private static object ToWireList(object value, Type fieldType)
    {
        var element = fieldType.GetGenericArguments()[0];
        var runtime = value.GetType();
        if (runtime == element.MakeArrayType() || runtime == typeof(List<>).MakeGenericType(element))
            return value;
        var items = ((IEnumerable)value).Cast<object?>().ToList();
        var array = Array.CreateInstance(element, items.Count);
        for (int i = 0; i < items.Count; i++)
            array.SetValue(items[i], i);
        return array;
    }

    private static object ShallowCopy(object source)
    {
        var type = source.GetType();
        object copy = System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(type);
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
        {
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                field.SetValue(copy, field.GetValue(source));
        }

        return copy;
    }
}

/// <summary>
/// Hyperion type filter that allows exactly the types control messages are made of: the concrete
/// <see cref="IControlMessage"/> records of <c>Distributed.Messages.Protocol</c>, the protocol records
/// their fields hold, arrays and <see cref="List{T}"/> of those (for <see cref="IReadOnlyList{T}"/>
/// fields), and Akka's actor-ref surrogate (<see cref="ActorRefBase.Surrogate"/>, which resolves a path
/// through the actor-ref provider). Primitives and strings have built-in Hyperion codecs and are never
/// loaded by name. Everything else, <see cref="object"/> included, is refused.
/// </summary>
/// <remarks>
/// The list is derived by reflection from the protocol's fields, so a new message needs no change
/// here as long as its fields are primitives, strings, protocol records, arrays or
/// <c>IReadOnlyList</c>s of those, or <see cref="IActorRef"/>s. Whatever list type a sender puts in an
/// <c>IReadOnlyList</c> field (a collection expression produces a compiler-generated type in the
/// sender's assembly), <see cref="ControlMessageSerializer"/> writes it as <c>T[]</c>.
/// </remarks>
public sealed class ProtocolTypeFilter : ITypeFilter
{
    // Hyperion writes type names in "short" form: the core library's version suffix is replaced by
    // ",%core%" and every other Version/Culture/PublicKeyToken is stripped (TypeEx.GetShortAssemblyQualifiedName).
    // On serialization it passes the full AssemblyQualifiedName to the filter instead. Normalising both to
    // the short form makes one allow-list serve both directions.
    private static readonly string CoreAssemblySuffix = GetCoreAssemblySuffix();

    private static readonly Regex VersionInfo = new(
        @"(, Version=([\d\.]+))?(, Culture=[^,\] \t]+)?(, PublicKeyToken=(null|[\da-f]+))?",
        RegexOptions.Compiled | RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);

    private const int MaxTypeNameLength = 2048;

    // Declared after the statics the constructor uses (static initialisers run in textual order).
    /// <summary>The filter for the protocol of this assembly.</summary>
    public static ProtocolTypeFilter Instance { get; } = new();

    private readonly ImmutableHashSet<string> _allowed;

    private ProtocolTypeFilter()
    {
        var allowed = new HashSet<Type>();
        var unsupported = new List<string>();
        var visited = new HashSet<Type>();
        foreach (var root in ProtocolControlMessageTypes())
            Visit(root, $"{root.Name}", allowed, visited, unsupported);
        AllowedTypes = allowed.OrderBy(t => t.FullName, StringComparer.Ordinal).ToImmutableArray();
        _allowed = AllowedTypes.Select(t => ShortName(t)).ToImmutableHashSet(StringComparer.Ordinal);
        UnsupportedMembers = [.. unsupported];
    }

    /// <summary>The types Hyperion may load by name, sorted by full name.</summary>
    public ImmutableArray<Type> AllowedTypes { get; }

    /// <summary>
    /// Fields of control messages whose type the filter cannot allow safely (e.g. <see cref="object"/>,
    /// interfaces other than <c>IReadOnlyList</c>, foreign classes); such messages would fail on the
    /// receiving side. Empty for a well-formed protocol; a unit test keeps it so.
    /// </summary>
    public ImmutableArray<string> UnsupportedMembers { get; }

    /// <summary>The concrete control-message types of the protocol.</summary>
    public static IEnumerable<Type> ProtocolControlMessageTypes() =>
        typeof(IControlMessage).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IControlMessage).IsAssignableFrom(t))
            .OrderBy(t => t.FullName, StringComparer.Ordinal);

    /// <inheritdoc />
    public bool IsAllowed(string typeName)
    {
        if (string.IsNullOrEmpty(typeName) || typeName.Length > MaxTypeNameLength)
            return false;
        return _allowed.Contains(Normalize(typeName));
    }

    /// <summary>Hyperion's short form of a type name (core version as <c>,%core%</c>, other versions stripped).</summary>
    /// <param name="typeName">A short or full assembly-qualified type name.</param>
    public static string Normalize(string typeName) =>
        VersionInfo.Replace(typeName.Replace(CoreAssemblySuffix, ",%core%", StringComparison.Ordinal), string.Empty);

    private static string ShortName(Type type) => Normalize(type.AssemblyQualifiedName!);

    private static string GetCoreAssemblySuffix()
    {
        string name = typeof(int).AssemblyQualifiedName!;
        return name[name.IndexOf(", Version", StringComparison.Ordinal)..];
    }

    private static bool IsProtocolType(Type type) =>
        type.Assembly == typeof(IControlMessage).Assembly
        && type.Namespace == typeof(IControlMessage).Namespace
        && !type.IsInterface;

    private static bool IsBuiltIn(Type type) =>
        type.IsPrimitive || type == typeof(string) || type == typeof(decimal) || type == typeof(Guid)
        || type == typeof(DateTime) || type == typeof(DateTimeOffset);

    private static void Visit(Type type, string where, HashSet<Type> allowed, HashSet<Type> visited, List<string> unsupported)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner)
        {
            Visit(inner, where, allowed, visited, unsupported);
            return;
        }

        if (IsBuiltIn(type))
            return;

        if (type.IsArray)
        {
            if (type.GetArrayRank() != 1)
            {
                unsupported.Add($"{where}: multi-dimensional array {type}");
                return;
            }

            allowed.Add(type);
            Visit(type.GetElementType()!, where + "[]", allowed, visited, unsupported);
            return;
        }

        if (type == typeof(TimeSpan))
        {
            allowed.Add(type); // a plain struct, no behaviour on deserialization
            return;
        }

        if (type == typeof(IActorRef))
        {
            allowed.Add(typeof(ActorRefBase.Surrogate));
            return;
        }

        if (type.IsGenericType && IsListInterface(type.GetGenericTypeDefinition()))
        {
            var element = type.GetGenericArguments()[0];
            allowed.Add(element.MakeArrayType());
            allowed.Add(typeof(List<>).MakeGenericType(element));
            Visit(element, where + "[]", allowed, visited, unsupported);
            return;
        }

        if (IsProtocolType(type) && (type.IsEnum || type.IsClass || type.IsValueType) && !typeof(ITensorMessage).IsAssignableFrom(type))
        {
            allowed.Add(type);
            if (!visited.Add(type) || type.IsEnum)
                return;
            for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            {
                foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                    Visit(field.FieldType, $"{type.Name}.{DisplayName(field)}", allowed, visited, unsupported);
            }

            return;
        }

        unsupported.Add($"{where}: {type}");
    }

    private static bool IsListInterface(Type definition) =>
        definition == typeof(IReadOnlyList<>) || definition == typeof(IReadOnlyCollection<>)
        || definition == typeof(IEnumerable<>) || definition == typeof(IList<>) || definition == typeof(List<>);

    private static string DisplayName(FieldInfo field) =>
        field.Name.StartsWith('<') && field.Name.IndexOf('>') > 1 ? field.Name[1..field.Name.IndexOf('>')] : field.Name;
}
