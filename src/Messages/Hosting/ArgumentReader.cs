using System.Globalization;

namespace Distributed.Messages.Hosting;

/// <summary>
/// Reads <c>--name value</c>, <c>--name=value</c> and <c>--flag</c> options. Each getter consumes
/// its option and validates the value; <see cref="EnsureAllConsumed"/> then rejects whatever is
/// left, so a typo is never silently ignored. Errors are <see cref="UsageException"/>s naming the option.
/// </summary>
public sealed class ArgumentReader
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly List<string> _positionals = [];

    /// <summary>Splits the arguments; a repeated option is an error.</summary>
    public ArgumentReader(IEnumerable<string> args)
    {
        var list = args.ToList();
        Arguments = list.AsReadOnly();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
            {
                _positionals.Add(a);
                continue;
            }
            string name = a;
            string? value = null;
            int eq = a.IndexOf('=');
            if (eq > 0) { name = a[..eq]; value = a[(eq + 1)..]; }
            else if (i + 1 < list.Count && !IsOptionName(list[i + 1])) value = list[++i];
            if (!_options.TryAdd(name, value)) throw new UsageException($"{name} is given twice");
        }
    }

    // "-5" or "-1e-3" is a value, "--x" an option.
    private static bool IsOptionName(string s) => s.StartsWith("--", StringComparison.Ordinal);

    /// <summary>The arguments as given.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Arguments that are not options.</summary>
    public IReadOnlyList<string> Positionals => _positionals;

    /// <summary>True if the option is present (without consuming it).</summary>
    public bool Has(string name) => _options.ContainsKey(name);

    /// <summary>A flag: present or not; a flag given a value is an error.</summary>
    public bool Flag(string name)
    {
        if (!_options.Remove(name, out var value)) return false;
        if (value is not null)
        {
            // A flag swallowed the next word: give it back as a positional so it is reported.
            _positionals.Add(value);
        }
        return true;
    }

    /// <summary>A string option, or <paramref name="fallback"/> when absent.</summary>
    public string? String(string name, string? fallback = null)
    {
        if (!_options.Remove(name, out var value)) return fallback;
        if (string.IsNullOrEmpty(value)) throw new UsageException($"{name} needs a value");
        return value;
    }

    /// <summary>An integer option in [min, max].</summary>
    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        string? s = String(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new UsageException($"{name} must be a whole number, got '{s}'");
        if (v < min || v > max) throw new UsageException($"{name} must be {Range(min, max)}, got {v}");
        return v;
    }

    /// <summary>A non-negative 64-bit integer option (seeds).</summary>
    public ulong ULong(string name, ulong fallback)
    {
        string? s = String(name);
        if (s is null) return fallback;
        if (!ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v))
            throw new UsageException($"{name} must be a non-negative whole number, got '{s}'");
        return v;
    }

    /// <summary>A finite number in [min, max] (or [min, max) when <paramref name="maxExclusive"/>).</summary>
    public double Double(string name, double fallback, double min, double max, bool maxExclusive = false)
    {
        string? s = String(name);
        if (s is null) return fallback;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new UsageException($"{name} must be a number, got '{s}'");
        if (v < min || v > max || (maxExclusive && v == max))
            throw new UsageException($"{name} must be in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}{(maxExclusive ? ")" : "]")}, got {s}");
        return v;
    }

    /// <summary>Comma-separated positive integers, e.g. <c>224,224,3</c>.</summary>
    public int[]? IntList(string name, int minCount, int maxCount)
    {
        string? s = String(name);
        if (s is null) return null;
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out values[i]) || values[i] <= 0)
                throw new UsageException($"{name} must be {minCount}–{maxCount} positive whole numbers separated by commas (e.g. 28,28,1), got '{s}'");
        }
        if (values.Length < minCount || values.Length > maxCount)
            throw new UsageException($"{name} must be {minCount}–{maxCount} positive whole numbers separated by commas (e.g. 28,28,1), got '{s}'");
        return values;
    }

    /// <summary>Fails on any option or positional argument that no getter consumed.</summary>
    public void EnsureAllConsumed(IEnumerable<string> known)
    {
        if (_options.Count > 0)
        {
            string name = _options.Keys.First();
            string? hint = Suggest(name, known);
            throw new UsageException($"unknown option {name}" + (hint is null ? "; see --help" : $"; did you mean {hint}?"));
        }
        if (_positionals.Count > 0) throw new UsageException($"unexpected argument '{_positionals[0]}'; see --help");
    }

    private static string Range(int min, int max) =>
        max == int.MaxValue ? $"≥ {min}" : min == int.MinValue ? $"≤ {max}" : $"in [{min}, {max}]";

    private static string? Suggest(string name, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var k in known)
        {
            int d = Distance(name, k);
            if (d < bestDistance) { bestDistance = d; best = k; }
        }
        return bestDistance <= Math.Max(2, name.Length / 4) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
