using System.Globalization;
using System.Text.Json;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Cli;

/// <summary>
/// <c>train</c>'s options from three places, the command line first: an option on the command line
/// wins over the environment (<c>DISTRIBUTED_LR=0.05</c> for <c>--lr</c>: the name in capitals,
/// dashes as underscores, <c>DISTRIBUTED_</c> in front; <c>1</c>/<c>true</c> or <c>0</c>/<c>false</c> for a flag), which wins
/// over a JSON config file (<c>--config FILE.json</c> or <c>DISTRIBUTED_CONFIG</c>: an object of option
/// names without dashes, e.g. <c>{"model": "keras-mnist-cnn", "lr": 0.01, "nesterov": true}</c>).
/// The merged command line is what the run records, so <c>--resume</c> needs neither again.
/// </summary>
public static class OptionSources
{
    /// <summary>The option that names the config file.</summary>
    public const string ConfigOption = "--config";

    /// <summary>Prefix of the environment variables.</summary>
    public const string EnvironmentPrefix = "DISTRIBUTED_";

    /// <summary>The environment variable of an option (<c>--lr-decay</c> → <c>DISTRIBUTED_LR_DECAY</c>).</summary>
    public static string VariableOf(string option) => EnvironmentPrefix + option.TrimStart('-').Replace('-', '_').ToUpperInvariant();

    /// <summary>
    /// The command line with every known option that it lacks taken from the environment or the config file,
    /// and where each such option came from (for the start-up line).
    /// </summary>
    /// <param name="commandLine">The command's arguments as given.</param>
    /// <param name="options">Options the command accepts (with dashes); flags among them in <paramref name="flags"/>.</param>
    /// <param name="flags">Options that take no value.</param>
    /// <param name="environment">Reads an environment variable (null when unset).</param>
    /// <exception cref="UsageException">A bad config file or environment value, naming it.</exception>
    /// <param name="exclusive">
    /// Groups of options that exclude each other's group (e.g. <c>--single-process</c> against the cluster options): when the
    /// command line gives an option of one group, no option of the other groups comes from the environment or the file.
    /// </param>
    public static (string[] Arguments, IReadOnlyList<string> Sources) Merge(IReadOnlyList<string> commandLine, IReadOnlyCollection<string> options,
        IReadOnlyCollection<string> flags, Func<string, string?> environment, IReadOnlyList<IReadOnlyCollection<string>>? exclusive = null)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(environment);
        var given = new HashSet<string>(commandLine.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=')[0]), StringComparer.Ordinal);
        var args = commandLine.Where((a, i) => a != ConfigOption && (i == 0 || commandLine[i - 1] != ConfigOption) && !a.StartsWith(ConfigOption + "=", StringComparison.Ordinal)).ToList();
        var sources = new List<string>();
        var excluded = new HashSet<string>(StringComparer.Ordinal);
        var groups = exclusive ?? [];
        for (int g = 0; g < groups.Count; g++)
            if (groups[g].Any(given.Contains))
                for (int other = 0; other < groups.Count; other++)
                    if (other != g) excluded.UnionWith(groups[other]);

        string? configPath = ConfigPath(commandLine) ?? environment(VariableOf(ConfigOption));
        var config = configPath is null ? new Dictionary<string, string?>() : ReadConfig(configPath, options, flags);
        foreach (string option in options)
        {
            if (given.Contains(option) || option == ConfigOption || excluded.Contains(option)) continue;
            string variable = VariableOf(option);
            if (environment(variable) is { } fromEnvironment)
            {
                Add(args, option, fromEnvironment, flags.Contains(option), variable);
                sources.Add(variable);
            }
            else if (config.TryGetValue(option, out var fromConfig))
            {
                if (fromConfig is null) args.Add(option);
                else args.AddRange([option, fromConfig]);
                sources.Add($"{Path.GetFileName(configPath)}:{option.TrimStart('-')}");
            }
        }
        return ([.. args], sources);
    }

    private static string? ConfigPath(IReadOnlyList<string> commandLine)
    {
        for (int i = 0; i < commandLine.Count; i++)
        {
            if (commandLine[i] == ConfigOption)
                return i + 1 < commandLine.Count && !commandLine[i + 1].StartsWith("--", StringComparison.Ordinal)
                    ? commandLine[i + 1]
                    : throw new UsageException($"{ConfigOption} needs a JSON file, e.g. {ConfigOption} train.json");
            if (commandLine[i].StartsWith(ConfigOption + "=", StringComparison.Ordinal)) return commandLine[i][(ConfigOption.Length + 1)..];
        }
        return null;
    }

    private static void Add(List<string> args, string option, string value, bool flag, string variable)
    {
        if (!flag)
        {
            if (value.Length == 0) throw new UsageException($"{variable} is set but empty; unset it or give {option} a value");
            args.AddRange([option, value]);
            return;
        }
        switch (value.Trim().ToLowerInvariant())
        {
            case "1" or "true" or "yes": args.Add(option); break;
            case "0" or "false" or "no" or "": break;
            default: throw new UsageException($"{variable}={value}: {option} is a flag; use 1/true or 0/false");
        }
    }

    // Option → value (null: a flag that is on); flags that are off are left out.
    private static Dictionary<string, string?> ReadConfig(string path, IReadOnlyCollection<string> options, IReadOnlyCollection<string> flags)
    {
        if (!File.Exists(path)) throw new UsageException($"{ConfigOption} {path}: file not found");
        var info = new FileInfo(path);
        if (info.Length > 1 << 20) throw new UsageException($"{ConfigOption} {path}: {info.Length:N0} bytes; a config file holds options, at most 1 MiB");
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { MaxDepth = 4 }); }
        catch (JsonException e) { throw new UsageException($"{ConfigOption} {path}: not valid JSON ({e.Message})"); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new UsageException($"{ConfigOption} {path}: expected a JSON object of options, e.g. {{\"lr\": 0.01, \"epochs\": 5}}");
            var result = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                string option = "--" + property.Name;
                if (!options.Contains(option) || option == ConfigOption)
                    throw new UsageException($"{ConfigOption} {path}: unknown option '{property.Name}'; the options are {string.Join(", ", options.Where(o => o != ConfigOption).Select(o => o.TrimStart('-')).Order(StringComparer.Ordinal))}");
                var value = property.Value;
                bool flag = flags.Contains(option);
                switch (value.ValueKind)
                {
                    case JsonValueKind.True when flag: result[option] = null; break;
                    case JsonValueKind.False when flag: break;
                    case JsonValueKind.String when !flag: result[option] = value.GetString(); break;
                    case JsonValueKind.Number when !flag: result[option] = value.GetRawText(); break;
                    default:
                        throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                            $"{ConfigOption} {path}: '{property.Name}' must be {(flag ? "true or false" : "a number or a string")}, got {value.ValueKind.ToString().ToLowerInvariant()}"));
                }
            }
            return result;
        }
    }
}
