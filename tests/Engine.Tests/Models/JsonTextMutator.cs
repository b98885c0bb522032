using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Distributed.Engine.Tests.Models;

/// <summary>
/// Text-level mutations of JSON documents: numbers replaced by huge, negative, fractional or
/// out-of-range values; strings by other class names, choices, escapes of half a surrogate pair or
/// very long text; unpaired surrogates and structural characters inserted; keys duplicated or
/// invented; values nested far deeper than any limit; characters deleted. Inputs carry the text as
/// raw UTF-16 so that unpaired surrogates survive the trip through a byte array.
/// </summary>
internal static class JsonTextMutator
{
    private static readonly Regex Number = new(@"-?\d+(\.\d+)?([eE][+-]?\d+)?", RegexOptions.Compiled);
    private static readonly Regex Text = new("\"(?:[^\"\\\\]|\\\\.)*\"", RegexOptions.Compiled);

    private static readonly string[] Numbers =
    [
        "0", "-1", "1", "2147483647", "2147483648", "-2147483648", "1048576", "1048577", "65536", "100000", "4294967295",
        "1e309", "-1e309", "1.5", "-0", "0.0", "1e-50", "99999999999999999999999", "3.4e38", "1E2", "0.999999999",
    ];

    private static readonly string[] Strings =
    [
        "\"Conv2D\"", "\"Dense\"", "\"DepthwiseConv2D\"", "\"MaxPooling2D\"", "\"BatchNormalization\"", "\"Flatten\"", "\"Softmax\"",
        "\"conv2d\"", "\"same\"", "\"valid\"", "\"relu\"", "\"relu6\"", "\"softmax\"", "\"\"", "\"\\ud800\"", "\"a\\udc00b\"", "\"\\u0000\"",
        "\"\\n\"", "\"é✓\"", "null", "true", "[]", "{}", "[3, 3]", "[1, 2, 3]", "[0, 0]", "\"" + new string('x', 300) + "\"",
    ];

    private static readonly string[] Inserts =
    [
        "\ud800", "\udfff", "{", "}", "[", "]", ",", ":", "\"", "\\", "/*", "*/", "//", "\u0000", " ", "\"name\": \"dup\",",
        "\"trainable\": false,", "\"units\": 3,", "\"unknown_key\": 1,", "\"config\": {},", "\"class_name\": \"Dense\",",
    ];

    /// <summary>The text as UTF-16 code units in a byte array.</summary>
    public static byte[] ToBytes(string text) => MemoryMarshal.AsBytes(text.AsSpan()).ToArray();

    /// <summary>The UTF-16 text of <see cref="ToBytes"/>, code unit for code unit (an odd last byte is dropped).</summary>
    public static string FromBytes(byte[] bytes) => new(MemoryMarshal.Cast<byte, char>(bytes.AsSpan(0, bytes.Length & ~1)));

    /// <summary>One to three text mutations of <paramref name="json"/>; returns the text and the kind of the first.</summary>
    public static (string Text, string Kind) Mutate(Random random, string json)
    {
        string kind = "";
        int rounds = random.Next(4) == 0 ? random.Next(2, 4) : 1;
        for (int i = 0; i < rounds; i++)
        {
            var (next, k) = MutateOnce(random, json);
            json = next;
            kind = i == 0 ? k : kind + "+" + k;
        }
        return (json, kind);
    }

    private static (string, string) MutateOnce(Random random, string json)
    {
        switch (random.Next(9))
        {
            case 0:
                return (ReplaceMatch(random, json, Number, Numbers[random.Next(Numbers.Length)]), "number");
            case 1:
                return (ReplaceMatch(random, json, Text, Strings[random.Next(Strings.Length)]), "string");
            case 2:
            {
                int at = random.Next(json.Length + 1);
                return (json.Insert(at, Inserts[random.Next(Inserts.Length)]), "insert");
            }
            case 3:
            {
                if (json.Length == 0) return (json, "delete");
                int at = random.Next(json.Length);
                return (json.Remove(at, Math.Min(json.Length - at, random.Next(1, 6))), "delete");
            }
            case 4:
            {
                // A value wrapped in more arrays or objects than the depth limit allows.
                int depth = random.Next(20, 70);
                string open = random.Next(2) == 0 ? new string('[', depth) : string.Concat(Enumerable.Repeat("{\"a\":", depth));
                string close = open[0] == '[' ? new string(']', depth) : new string('}', depth);
                return (ReplaceMatch(random, json, Number, open + "1" + close), "deep-nesting");
            }
            case 5:
            {
                // A layer object duplicated many times: more layers, more parameters.
                int start = json.IndexOf("{\"class_name\"", random.Next(json.Length + 1), StringComparison.Ordinal);
                if (start < 0) start = json.IndexOf("{\"class_name\"", StringComparison.Ordinal);
                int end = start < 0 ? -1 : json.IndexOf('}', start);
                if (end < 0) return (json, "repeat-layer");
                string layer = json[start..(end + 1)];
                return (json.Insert(end + 1, string.Concat(Enumerable.Repeat("," + layer, random.Next(20) == 0 ? random.Next(990, 1010) : random.Next(1, 40)))), "repeat-layer");
            }
            case 6:
            {
                int at = random.Next(json.Length + 1);
                return (json.Insert(at, ((char)random.Next(0x20, 0x7F)).ToString()), "insert-char");
            }
            case 7:
                return (ReplaceMatch(random, json, Text, "\"" + Strings[random.Next(Strings.Length)].Trim('"') + "_x\""), "rename");
            default:
            {
                var bytes = Encoding.UTF8.GetBytes(json);
                if (bytes.Length > 0) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return (Encoding.UTF8.GetString(bytes), "utf8-bit-flip");
            }
        }
    }

    private static string ReplaceMatch(Random random, string json, Regex pattern, string replacement)
    {
        var matches = pattern.Matches(json);
        if (matches.Count == 0) return json;
        var m = matches[random.Next(matches.Count)];
        return string.Concat(json.AsSpan(0, m.Index), replacement, json.AsSpan(m.Index + m.Length));
    }

    /// <summary>A random JSON-ish value, nested up to <paramref name="depth"/>.</summary>
    public static string RandomJson(Random random, int depth)
    {
        int roll = random.Next(depth <= 0 ? 4 : 7);
        return roll switch
        {
            0 => Numbers[random.Next(Numbers.Length)],
            1 => Strings[random.Next(Strings.Length)],
            2 => random.Next(2) == 0 ? "true" : "null",
            3 => Inserts[random.Next(Inserts.Length)],
            4 or 5 => "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => RandomJson(random, depth - 1))) + "]",
            _ => "{" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ =>
                $"\"{new[] { "input_shape", "layers", "class_name", "units", "filters", "kernel_size", "config", "name", "x" }[random.Next(9)]}\":{RandomJson(random, depth - 1)}")) + "}",
        };
    }
}
