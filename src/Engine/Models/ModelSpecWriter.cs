using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Distributed.Engine.Models;

/// <summary>
/// Writes the canonical JSON of a specification: fixed key order (name, input_shape, layers;
/// class_name, name, trainable, then the configuration in Keras's order), every configuration key
/// present, <c>name</c> only when explicit, <c>trainable</c> only when false, floats in their
/// shortest round-trip form. The indented form puts one layer per line.
/// </summary>
internal static class ModelSpecWriter
{
    /// <summary>The whole specification; <paramref name="architectureOnly"/> leaves out the model name and trainable flags.</summary>
    public static string Write(ModelSpec spec, bool indented, bool architectureOnly = false)
    {
        var sb = new StringBuilder(128 + 160 * spec.Layers.Count);
        string sep = indented ? ", " : ",", colon = indented ? ": " : ":";
        string nl = indented ? "\n  " : "";
        sb.Append('{');
        if (spec.Name is not null && !architectureOnly)
            sb.Append(nl).Append("\"name\"").Append(colon).Append(Quote(spec.Name)).Append(',');
        sb.Append(nl).Append("\"input_shape\"").Append(colon).Append('[').AppendJoin(sep, spec.InputShape.Dims).Append("],");
        sb.Append(nl).Append("\"layers\"").Append(colon).Append('[');
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            if (i > 0) sb.Append(',');
            if (indented) sb.Append("\n    ");
            AppendLayer(sb, spec.Layers[i], indented, architectureOnly);
        }
        if (indented) sb.Append("\n  ");
        sb.Append(']');
        if (indented) sb.Append('\n');
        sb.Append('}');
        return sb.ToString();
    }

    /// <summary>One layer as a compact JSON object.</summary>
    public static string WriteLayer(LayerSpec layer)
    {
        var sb = new StringBuilder(160);
        AppendLayer(sb, layer, indented: false, architectureOnly: false);
        return sb.ToString();
    }

    private static void AppendLayer(StringBuilder sb, LayerSpec layer, bool indented, bool architectureOnly)
    {
        string sep = indented ? ", " : ",", colon = indented ? ": " : ":";
        sb.Append('{').Append("\"class_name\"").Append(colon).Append(Quote(layer.ClassName));
        if (layer.Name is not null) sb.Append(sep).Append("\"name\"").Append(colon).Append(Quote(layer.Name));
        if (!layer.Trainable && !architectureOnly) sb.Append(sep).Append("\"trainable\"").Append(colon).Append("false");
        foreach (var (key, value) in layer.OrderedConfig)
        {
            sb.Append(sep).Append(Quote(key)).Append(colon);
            AppendValue(sb, value, sep);
        }
        sb.Append('}');
    }

    private static void AppendValue(StringBuilder sb, object? value, string sep)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case int i: sb.Append(i.ToString(CultureInfo.InvariantCulture)); break;
            case float f: sb.Append(Number(f)); break;
            case string s: sb.Append(Quote(s)); break;
            case ImmutableArray<int> a: sb.Append('[').AppendJoin(sep, a).Append(']'); break;
            default: throw new InvalidOperationException($"cannot write a {value.GetType().Name} in a model spec");
        }
    }

    /// <summary>Shortest round-trip form of a float, always with a decimal point or exponent (Keras writes 6.0).</summary>
    public static string Number(float f)
    {
        string s = f.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') ? s : s + ".0";
    }

    /// <summary>A JSON string literal.</summary>
    public static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
