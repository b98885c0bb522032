using System.Text.Json;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Models;

/// <summary>
/// Reads a model specification from JSON, strictly: unknown keys, wrong types and
/// out-of-range values are <see cref="ModelSpecException"/>s that name the layer and key.
/// </summary>
internal static class ModelSpecParser
{
    private static readonly string[] TopLevelKeys = ["name", "input_shape", "layers"];

    private static readonly JsonDocumentOptions Options = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Skip,
        MaxDepth = ModelSpec.MaxJsonDepth,
    };

    /// <summary>Parses a whole specification.</summary>
    public static ModelSpec Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > ModelSpec.MaxFileBytes)
            throw new ModelSpecException($"the model spec has {json.Length:N0} characters, more than the limit of {ModelSpec.MaxFileBytes:N0}");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, Options);
        }
        catch (JsonException e)
        {
            throw new ModelSpecException(
                $"the model spec is not valid JSON: line {e.LineNumber + 1}, position {e.BytePositionInLine + 1}: {FirstSentence(e.Message)}");
        }
        catch (ArgumentException)
        {
            // System.Text.Json transcodes the text to UTF-8 first and refuses an unpaired surrogate that way.
            throw new ModelSpecException("the model spec is not valid text: it contains an unpaired UTF-16 surrogate");
        }
        using (document)
        {
            CheckStrings(document.RootElement, "$");
            return Read(document.RootElement);
        }
    }

    /// <summary>
    /// Decodes every key and string once, so that an escape naming half a surrogate pair
    /// (<c>"\ud800"</c>), which the parser accepts but <see cref="JsonElement.GetString"/> refuses with
    /// an <see cref="InvalidOperationException"/>, is an error naming where it is.
    /// </summary>
    private static void CheckStrings(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                Decode(element, path);
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray()) CheckStrings(item, $"{path}[{i++}]");
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try { name = property.Name; }
                    catch (InvalidOperationException) { throw InvalidString($"a key of {path}"); }
                    CheckStrings(property.Value, $"{path}.{name}");
                }
                break;
        }
    }

    private static void Decode(JsonElement element, string path)
    {
        try { _ = element.GetString(); }
        catch (InvalidOperationException) { throw InvalidString(path); }
    }

    private static ModelSpecException InvalidString(string where) =>
        new($"the model spec has an invalid string at {where}: an escape names half of a UTF-16 surrogate pair");

    private static ModelSpec Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new ModelSpecException($"the model spec must be a JSON object with 'input_shape' and 'layers', got {Describe(root)}");
        var keys = Properties(root, "the model spec");
        if (keys.ContainsKey("class_name") && keys.ContainsKey("config"))
            throw new ModelSpecException(
                "this looks like Keras's model.to_json() output, which is not read as a whole; write {\"input_shape\": [...], \"layers\": [...]} (layers may keep Keras's {\"class_name\": ..., \"config\": {...}} form)");
        foreach (var key in keys.Keys)
        {
            if (TopLevelKeys.Contains(key)) continue;
            string hint = Suggest(key, TopLevelKeys) is { } s ? $"; did you mean '{s}'?" : "";
            throw new ModelSpecException($"unknown top-level key '{key}'{hint} (accepted: {string.Join(", ", TopLevelKeys)})");
        }

        string? name = null;
        if (keys.TryGetValue("name", out var nameElement) && nameElement.ValueKind != JsonValueKind.Null)
        {
            if (nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Length == 0)
                throw new ModelSpecException($"'name' must be a non-empty string, got {Describe(nameElement)}");
            name = nameElement.GetString();
        }

        if (!keys.TryGetValue("input_shape", out var shapeElement))
            throw new ModelSpecException("missing required top-level key 'input_shape', e.g. \"input_shape\": [28, 28, 1]");
        var inputShape = ReadInputShape(shapeElement);

        if (!keys.TryGetValue("layers", out var layersElement))
            throw new ModelSpecException("missing required top-level key 'layers' (a list of layer objects)");
        if (layersElement.ValueKind != JsonValueKind.Array)
            throw new ModelSpecException($"'layers' must be a list of layer objects, got {Describe(layersElement)}");
        int count = layersElement.GetArrayLength();
        if (count == 0) throw new ModelSpecException("'layers' is empty; a model needs at least one layer");
        if (count > ModelSpec.MaxLayers)
            throw new ModelSpecException($"'layers' has {count:N0} layers, more than the limit of {ModelSpec.MaxLayers:N0}");

        var layers = new LayerSpec[count];
        int i = 0;
        foreach (var element in layersElement.EnumerateArray())
        {
            layers[i] = LayerSpecSchema.Read(element, $"layers[{i}]");
            i++;
        }
        return new ModelSpec(inputShape, layers, name);
    }

    private static TensorShape ReadInputShape(JsonElement v)
    {
        const string Expected = "a list of 1 to 3 positive integers, e.g. [28, 28, 1]";
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() is < 1 or > 3)
            throw new ModelSpecException($"'input_shape' must be {Expected}, got {Describe(v)}");
        var dims = new int[v.GetArrayLength()];
        int i = 0;
        foreach (var d in v.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out dims[i]) || dims[i] <= 0)
                throw new ModelSpecException($"'input_shape' must be {Expected}, got {Describe(v)}");
            if (dims[i] > ModelSpec.MaxDimension)
                throw new ModelSpecException($"'input_shape' dimension {i} is {dims[i]:N0}, more than the limit of {ModelSpec.MaxDimension:N0}");
            i++;
        }
        return new TensorShape(dims);
    }

    /// <summary>The properties of an object in document order; a repeated key is an error.</summary>
    public static Dictionary<string, JsonElement> Properties(JsonElement obj, string where)
    {
        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in obj.EnumerateObject())
        {
            if (!result.TryAdd(p.Name, p.Value))
                throw new ModelSpecException($"{where}: key '{p.Name}' appears more than once");
        }
        return result;
    }

    /// <summary>A short one-line rendering of a JSON value for error messages.</summary>
    public static string Describe(JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.Object:
                return "an object";
            case JsonValueKind.Array:
            case JsonValueKind.String:
            {
                string text = v.ValueKind == JsonValueKind.String
                    ? ModelSpecWriter.Quote(v.GetString()!)
                    : string.Join(" ", v.GetRawText().Split((char[])['\r', '\n', '\t', ' '], StringSplitOptions.RemoveEmptyEntries));
                string kind = v.ValueKind == JsonValueKind.String ? "a string" : "a list";
                return text.Length <= 40 ? text : $"{kind} ({text[..37]}...)";
            }
            default:
                return v.GetRawText();
        }
    }

    /// <summary>The candidate closest to <paramref name="given"/> by edit distance, if it is close enough to be a likely typo.</summary>
    public static string? Suggest(string given, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        string g = given.ToLowerInvariant();
        foreach (var candidate in candidates)
        {
            string c = candidate.ToLowerInvariant();
            int d = EditDistance(g, c);
            bool close = d <= Math.Max(1, c.Length / 3) || (g.Length >= 3 && (c.StartsWith(g, StringComparison.Ordinal) || g.StartsWith(c, StringComparison.Ordinal)));
            if (close && d < bestDistance) { best = candidate; bestDistance = d; }
        }
        return best;
    }

    /// <summary>Levenshtein distance (insertions, deletions, substitutions).</summary>
    public static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitute, Math.Min(previous[j], current[j - 1]) + 1);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        string text = cut >= 0 ? message[..cut] : message;
        return text.ReplaceLineEndings(" ").Trim();
    }
}
