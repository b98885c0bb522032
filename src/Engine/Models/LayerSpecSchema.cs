using System.Collections.Immutable;
using System.Text.Json;

namespace Distributed.Engine.Models;

/// <summary>
/// The keys each layer class accepts in a model specification, their JSON types, ranges and
/// defaults, and the normalisation of a layer object into <see cref="LayerSpec"/>'s canonical
/// form: every key present, sizes as <c>[h, w]</c> pairs, pooling strides resolved.
/// </summary>
internal static class LayerSpecSchema
{
    /// <summary>How a key's value is read and checked.</summary>
    private enum Kind
    {
        PositiveInt,
        PositivePair,
        PoolStrides,
        ConvPadding,
        PoolPadding,
        Bool,
        Activation,
        Rate,
        Momentum,
        Epsilon,
        MaxValue,
        DepthMultiplier,
    }

    private sealed record Rule(string Key, Kind Kind, bool Required = false, object? Default = null);

    private static readonly ImmutableArray<int> One = [1, 1];
    private static readonly ImmutableArray<int> Two = [2, 2];

    private static readonly Dictionary<string, Rule[]> Rules = new(StringComparer.Ordinal)
    {
        ["Conv2D"] =
        [
            new("filters", Kind.PositiveInt, Required: true),
            new("kernel_size", Kind.PositivePair, Required: true),
            new("strides", Kind.PositivePair, Default: One),
            new("padding", Kind.ConvPadding, Default: "valid"),
            new("use_bias", Kind.Bool, Default: true),
            new("activation", Kind.Activation, Default: "linear"),
        ],
        ["DepthwiseConv2D"] =
        [
            new("kernel_size", Kind.PositivePair, Required: true),
            new("strides", Kind.PositivePair, Default: One),
            new("padding", Kind.ConvPadding, Default: "valid"),
            new("depth_multiplier", Kind.DepthMultiplier),
            new("use_bias", Kind.Bool, Default: true),
            new("activation", Kind.Activation, Default: "linear"),
        ],
        ["Dense"] =
        [
            new("units", Kind.PositiveInt, Required: true),
            new("activation", Kind.Activation, Default: "linear"),
            new("use_bias", Kind.Bool, Default: true),
        ],
        ["MaxPooling2D"] = PoolRules(),
        ["AveragePooling2D"] = PoolRules(),
        ["GlobalAveragePooling2D"] = [],
        ["Flatten"] = [],
        ["Dropout"] = [new("rate", Kind.Rate, Required: true)],
        ["BatchNormalization"] =
        [
            new("momentum", Kind.Momentum, Default: 0.99f),
            new("epsilon", Kind.Epsilon, Default: 1e-3f),
        ],
        ["ReLU"] = [new("max_value", Kind.MaxValue)],
        ["Softmax"] = [],
    };

    private static Rule[] PoolRules() =>
    [
        new("pool_size", Kind.PositivePair, Default: Two),
        new("strides", Kind.PoolStrides),
        new("padding", Kind.PoolPadding, Default: "valid"),
    ];

    /// <summary>Classes whose kernel, stride and padding must be square in this engine.</summary>
    private static readonly HashSet<string> SquareOnly = ["DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D"];

    /// <summary>The supported Keras class names.</summary>
    public static IReadOnlyCollection<string> ClassNames => Rules.Keys;

    /// <summary>
    /// Reads one layer object (flat, or Keras's <c>{"class_name": ..., "config": {...}}</c>).
    /// <paramref name="where"/> names it in errors, e.g. <c>layers[2]</c>; null names it by class only.
    /// </summary>
    public static LayerSpec Read(JsonElement element, string? where)
    {
        string w = where ?? "layer";
        if (element.ValueKind != JsonValueKind.Object)
            throw Error($"{w}: a layer must be a JSON object, got {ModelSpecParser.Describe(element)}");
        var outer = ModelSpecParser.Properties(element, w);
        if (!outer.TryGetValue("class_name", out var classElement))
            throw Error($"{w}: missing key 'class_name' (one of {string.Join(", ", ClassNames)})");
        if (classElement.ValueKind != JsonValueKind.String)
            throw Error($"{w}: 'class_name' must be a string, got {ModelSpecParser.Describe(classElement)}");
        string className = classElement.GetString()!;
        if (!Rules.TryGetValue(className, out var rules))
        {
            string hint = ModelSpecParser.Suggest(className, ClassNames) is { } s ? $"; did you mean '{s}'?" : "";
            throw Error($"{w}: unknown class_name '{className}'{hint} (supported: {string.Join(", ", ClassNames)})");
        }
        string at = where is null ? className : $"{where} ({className})";

        // Keras's model.to_json() nests the settings under "config".
        var keys = outer;
        if (outer.TryGetValue("config", out var nested))
        {
            if (nested.ValueKind != JsonValueKind.Object)
                throw Error($"{at}: 'config' must be a JSON object, got {ModelSpecParser.Describe(nested)}");
            foreach (var key in outer.Keys)
            {
                if (key is not ("class_name" or "config"))
                    throw Error($"{at}: key '{key}' must go inside 'config' when 'config' is used");
            }
            keys = ModelSpecParser.Properties(nested, at);
            if (keys.ContainsKey("class_name")) throw Error($"{at}: 'class_name' must be outside 'config'");
        }

        var valid = rules.Select(r => r.Key).Concat(["name", "trainable"]).ToArray();
        foreach (var key in keys.Keys)
        {
            if (key == "class_name" || valid.Contains(key)) continue;
            string hint = ModelSpecParser.Suggest(key, valid) is { } s ? $"; did you mean '{s}'?" : "";
            string list = valid.Length > 0 ? $" ({className} accepts {string.Join(", ", valid)})" : "";
            throw Error($"{at}: unknown key '{key}'{hint}{list}");
        }

        string? name = null;
        if (keys.TryGetValue("name", out var nameElement) && nameElement.ValueKind != JsonValueKind.Null)
        {
            if (nameElement.ValueKind != JsonValueKind.String)
                throw Error($"{at}: 'name' must be a string, got {ModelSpecParser.Describe(nameElement)}");
            name = nameElement.GetString()!;
            if (name.Length == 0 || name.Length > 256 || name.Any(char.IsControl))
                throw Error($"{at}: 'name' must be 1 to 256 printable characters, got {ModelSpecParser.Describe(nameElement)}");
        }
        bool trainable = true;
        if (keys.TryGetValue("trainable", out var trainableElement))
            trainable = ReadBool(trainableElement, at, "trainable");

        var config = new List<KeyValuePair<string, object?>>(rules.Length);
        foreach (var rule in rules)
        {
            object? value;
            if (keys.TryGetValue(rule.Key, out var v)) value = Normalize(rule, v, at);
            else if (rule.Required) throw Error($"{at}: missing required key '{rule.Key}'");
            else value = rule.Default;
            if (rule.Kind == Kind.DepthMultiplier) continue; // only 1 is supported, so it carries no information
            config.Add(new(rule.Key, value));
        }

        if (rules.Any(r => r.Kind == Kind.PoolStrides))
        {
            int i = config.FindIndex(p => p.Key == "strides");
            config[i] = new("strides", config[i].Value ?? config.First(p => p.Key == "pool_size").Value);
        }
        if (SquareOnly.Contains(className))
        {
            foreach (var (key, value) in config)
            {
                if (value is ImmutableArray<int> pair && pair[0] != pair[1])
                    throw Error($"{at}: '{key}' must be square in this engine, got [{pair[0]}, {pair[1]}]");
            }
        }
        return new LayerSpec(className, name, trainable, [.. config]);
    }

    private static object? Normalize(Rule rule, JsonElement v, string at)
    {
        object? value = NormalizeValue(rule, v, at);
        int largest = value switch
        {
            int n when rule.Kind is Kind.PositiveInt => n,
            ImmutableArray<int> pair => Math.Max(pair[0], pair[1]),
            _ => 0,
        };
        if (largest > ModelSpec.MaxDimension)
            throw Error($"{at}: '{rule.Key}' is {largest:N0}, more than the limit of {ModelSpec.MaxDimension:N0}");
        return value;
    }

    private static object? NormalizeValue(Rule rule, JsonElement v, string at)
    {
        string key = rule.Key;
        switch (rule.Kind)
        {
            case Kind.PositiveInt:
                return TryInt(v, out int n) && n > 0 ? n : throw Bad(at, key, "a positive integer", v);
            case Kind.PositivePair:
                return ReadPair(v, 1) ?? throw Bad(at, key, "a positive integer or a list [height, width] of two", v);
            case Kind.PoolStrides:
                if (v.ValueKind == JsonValueKind.Null) return null;
                return ReadPair(v, 1) ?? throw Bad(at, key, "null, a positive integer or a list [height, width] of two", v);
            case Kind.ConvPadding:
                if (v.ValueKind == JsonValueKind.String)
                    return ReadChoice(v, at, key, ["valid", "same"]);
                if (ReadPair(v, int.MinValue) is { } pad)
                    return pad[0] >= 0 && pad[1] >= 0 ? pad : throw Error($"{at}: 'padding' must not be negative, got {ModelSpecParser.Describe(v)}");
                throw Bad(at, key, "'valid', 'same', a non-negative integer or a list [pad_height, pad_width]", v);
            case Kind.PoolPadding:
                if (v.ValueKind == JsonValueKind.String) return ReadChoice(v, at, key, ["valid", "same"]);
                throw Bad(at, key, "'valid' or 'same'", v);
            case Kind.Bool:
                return ReadBool(v, at, key);
            case Kind.Activation:
                if (v.ValueKind == JsonValueKind.Null) return "linear";
                if (v.ValueKind == JsonValueKind.String && v.GetString() is "softmax" or "sigmoid" or "tanh")
                    throw Error($"{at}: activation '{v.GetString()}' is not supported here; use 'linear', 'relu' or 'relu6' (add a Softmax layer for softmax)");
                if (v.ValueKind == JsonValueKind.String) return ReadChoice(v, at, key, ["linear", "relu", "relu6"]);
                throw Bad(at, key, "'linear', 'relu' or 'relu6'", v);
            case Kind.Rate:
                return TryFloat(v, out float r) && r >= 0f && r < 1f ? r : throw Bad(at, key, "a number in [0, 1)", v);
            case Kind.Momentum:
                return TryFloat(v, out float m) && m >= 0f && m <= 1f ? m : throw Bad(at, key, "a number in [0, 1]", v);
            case Kind.Epsilon:
                return TryFloat(v, out float e) && e > 0f ? e : throw Bad(at, key, "a positive number", v);
            case Kind.MaxValue:
                if (v.ValueKind == JsonValueKind.Null) return null;
                return TryFloat(v, out float mv) && mv > 0f ? mv : throw Bad(at, key, "null or a positive number", v);
            case Kind.DepthMultiplier:
                return TryInt(v, out int dm) && dm == 1 ? 1 : throw Bad(at, key, "1 (other depth multipliers are not supported)", v);
            default:
                throw new InvalidOperationException($"unhandled rule kind {rule.Kind}");
        }
    }

    /// <summary>An integer or a list of two, each at least <paramref name="min"/>; null if the value is neither.</summary>
    private static ImmutableArray<int>? ReadPair(JsonElement v, int min)
    {
        if (TryInt(v, out int n)) return n >= min ? [n, n] : null;
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() != 2) return null;
        if (!TryInt(v[0], out int a) || !TryInt(v[1], out int b) || a < min || b < min) return null;
        return [a, b];
    }

    private static string ReadChoice(JsonElement v, string at, string key, string[] choices)
    {
        string s = v.GetString()!;
        if (choices.Contains(s)) return s;
        string hint = ModelSpecParser.Suggest(s, choices) is { } c ? $"; did you mean '{c}'?" : "";
        throw Error($"{at}: '{key}' must be {string.Join(" or ", choices.Select(c => $"'{c}'"))}, got '{s}'{hint}");
    }

    private static bool ReadBool(JsonElement v, string at, string key) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Bad(at, key, "true or false", v),
    };

    private static bool TryInt(JsonElement v, out int value)
    {
        value = 0;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out value);
    }

    private static bool TryFloat(JsonElement v, out float value)
    {
        value = 0f;
        return v.ValueKind == JsonValueKind.Number && v.TryGetSingle(out value) && float.IsFinite(value);
    }

    private static ModelSpecException Bad(string at, string key, string expected, JsonElement got) =>
        Error($"{at}: '{key}' must be {expected}, got {ModelSpecParser.Describe(got)}");

    private static ModelSpecException Error(string message) => new(message);
}
