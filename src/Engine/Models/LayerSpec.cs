using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Distributed.Engine.Layers;

namespace Distributed.Engine.Models;

/// <summary>
/// One layer of a <see cref="ModelSpec"/>: Keras's class name, an optional name, the trainable
/// flag and the configuration in canonical form — every accepted key present with its default
/// filled in, window sizes as <c>[height, width]</c> pairs, pooling strides resolved. Immutable,
/// with value equality (on the canonical JSON).
/// </summary>
public sealed class LayerSpec : IEquatable<LayerSpec>
{
    private readonly KeyValuePair<string, object?>[] _config;
    private string? _json;

    internal LayerSpec(string className, string? name, bool trainable, KeyValuePair<string, object?>[] config)
    {
        ClassName = className;
        Name = name;
        Trainable = trainable;
        _config = config;
    }

    /// <summary>Keras's class name, e.g. <c>Conv2D</c>.</summary>
    public string ClassName { get; }

    /// <summary>The explicit layer name, or null for a Keras-style generated one (<c>conv2d_1</c>).</summary>
    public string? Name { get; }

    /// <summary>False freezes the layer.</summary>
    public bool Trainable { get; }

    /// <summary>
    /// The canonical configuration in Keras's key order, without class_name, name and trainable.
    /// Values are <see cref="int"/>, <see cref="float"/>, <see cref="bool"/>, <see cref="string"/>,
    /// null, or an <see cref="ImmutableArray{T}"/> of two ints for <c>[height, width]</c>.
    /// </summary>
    public IReadOnlyDictionary<string, object?> Config => _config.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    internal IReadOnlyList<KeyValuePair<string, object?>> OrderedConfig => _config;

    /// <summary>The Keras class names a specification may use.</summary>
    public static IReadOnlyCollection<string> SupportedClassNames => LayerSpecSchema.ClassNames;

    /// <summary>
    /// Creates a layer specification from Keras-style settings, checked and normalised exactly as
    /// in JSON. Values may be ints, floats, doubles, bools, strings, null, or int arrays/lists.
    /// </summary>
    /// <exception cref="ModelSpecException">Unknown class or key, wrong type or out-of-range value.</exception>
    public static LayerSpec Create(string className, IReadOnlyDictionary<string, object?>? config = null, string? name = null, bool trainable = true)
    {
        ArgumentNullException.ThrowIfNull(className);
        var obj = new JsonObject { ["class_name"] = className };
        if (name is not null) obj["name"] = name;
        if (!trainable) obj["trainable"] = false;
        foreach (var (key, value) in config ?? new Dictionary<string, object?>())
        {
            if (key is "class_name" or "name" or "trainable")
                throw new ModelSpecException($"{className}: pass '{key}' as an argument, not in the config");
            obj[key] = ToNode(value, className, key);
        }
        using var document = JsonDocument.Parse(obj.ToJsonString());
        return LayerSpecSchema.Read(document.RootElement, name);
    }

    /// <summary>
    /// Describes an existing layer from its type and properties, including its name (when
    /// <paramref name="includeName"/>) and trainable flag.
    /// </summary>
    /// <exception cref="ModelSpecException">The layer type cannot be written as a specification.</exception>
    public static LayerSpec FromLayer(Layer layer, bool includeName = true)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (!LayerSpecSchema.ClassNames.Contains(layer.TypeName))
            throw new ModelSpecException($"{layer.Name} ({layer.TypeName}): this layer type cannot be written as a model spec");
        return Create(layer.TypeName, layer.Config, includeName ? layer.Name : null, layer.Trainable);
    }

    /// <summary>A copy with another name (null for a generated one).</summary>
    public LayerSpec WithName(string? name) =>
        name == Name ? this : Create(ClassName, Config, name, Trainable);

    /// <summary>A copy with another trainable flag.</summary>
    public LayerSpec WithTrainable(bool trainable) =>
        trainable == Trainable ? this : new LayerSpec(ClassName, Name, trainable, _config);

    /// <summary>A copy with one configuration key replaced, checked like <see cref="Create"/>.</summary>
    public LayerSpec With(string key, object? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var config = _config.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        config[key] = value;
        return Create(ClassName, config, Name, Trainable);
    }

    /// <summary>Creates a fresh, unbuilt engine layer.</summary>
    public Layer CreateLayer()
    {
        Layer layer = ClassName switch
        {
            "Conv2D" => CreateConv2D(),
            "DepthwiseConv2D" => CreateDepthwise(),
            "Dense" => new Dense(Int("units"), Act(), Bool("use_bias"), Name),
            "MaxPooling2D" => new MaxPooling2D(Pair("pool_size")[0], Pair("strides")[0], PoolPadding(), Name),
            "AveragePooling2D" => new AveragePooling2D(Pair("pool_size")[0], Pair("strides")[0], PoolPadding(), Name),
            "GlobalAveragePooling2D" => new GlobalAveragePooling2D(Name),
            "Flatten" => new Flatten(Name),
            "Dropout" => new Dropout(Float("rate"), Name),
            "BatchNormalization" => new BatchNormalization(Float("momentum"), Float("epsilon"), Name),
            "ReLU" => new ReLU(Get("max_value") is float m ? m : null, Name),
            "Softmax" => new Softmax(Name),
            _ => throw new ModelSpecException($"{ClassName}: unsupported layer class"),
        };
        layer.Trainable = Trainable;
        return layer;
    }

    private Conv2D CreateConv2D()
    {
        var (kernel, strides) = (Pair("kernel_size"), Pair("strides"));
        var (mode, ph, pw) = ConvPadding();
        return new Conv2D(Int("filters"), kernel[0], kernel[1], strides[0], strides[1], mode, ph, pw, Bool("use_bias"), Act(), Name);
    }

    private DepthwiseConv2D CreateDepthwise()
    {
        var (mode, pad, _) = ConvPadding();
        return new DepthwiseConv2D(Pair("kernel_size")[0], Pair("strides")[0], mode, pad, Bool("use_bias"), Act(), Name);
    }

    private (PaddingMode Mode, int PadHeight, int PadWidth) ConvPadding() => Get("padding") switch
    {
        "same" => (PaddingMode.Same, 0, 0),
        ImmutableArray<int> pad => (PaddingMode.Explicit, pad[0], pad[1]),
        _ => (PaddingMode.Valid, 0, 0),
    };

    private PaddingMode PoolPadding() => Get("padding") is "same" ? PaddingMode.Same : PaddingMode.Valid;

    private Activation Act() => ActivationNames.Parse((string?)Get("activation")) ?? Activation.None;

    private object? Get(string key)
    {
        foreach (var (k, v) in _config) if (k == key) return v;
        throw new InvalidOperationException($"{ClassName} spec has no key '{key}'");
    }

    private int Int(string key) => (int)Get(key)!;
    private float Float(string key) => (float)Get(key)!;
    private bool Bool(string key) => (bool)Get(key)!;
    private ImmutableArray<int> Pair(string key) => (ImmutableArray<int>)Get(key)!;

    /// <summary>Number of parameters plus state values of the layer (built) — Keras's Param # — without overflow.</summary>
    internal static long CountParameters(Layer layer)
    {
        long total = 0;
        foreach (var p in layer.Parameters.Concat(layer.StateTensors))
        {
            long n = 1;
            foreach (int d in p.Shape.Dims) n *= d;
            total += n;
        }
        return total;
    }

    private static JsonNode? ToNode(object? value, string className, string key) => value switch
    {
        null => null,
        JsonNode node => node.DeepClone(),
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        float f => float.IsFinite(f) ? JsonValue.Create(f) : throw NotFinite(className, key, f.ToString(CultureInfo.InvariantCulture)),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : throw NotFinite(className, key, d.ToString(CultureInfo.InvariantCulture)),
        string s => JsonValue.Create(s),
        IEnumerable<int> ints => new JsonArray([.. ints.Select(n => (JsonNode?)JsonValue.Create(n))]),
        _ => throw new ModelSpecException($"{className}: '{key}' has a value of type {value.GetType().Name}, which a model spec cannot hold"),
    };

    private static ModelSpecException NotFinite(string className, string key, string text) =>
        new($"{className}: '{key}' must be a finite number, got {text}");

    /// <summary>The canonical one-line JSON of this layer.</summary>
    public override string ToString() => _json ??= ModelSpecWriter.WriteLayer(this);

    /// <inheritdoc/>
    public bool Equals(LayerSpec? other) => other is not null && ToString() == other.ToString();

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as LayerSpec);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());
}
