using System.Globalization;

namespace Distributed.Engine.Data;

/// <summary>
/// How pixels are scaled after loading: (x − <see cref="Mean"/>) / <see cref="Std"/>. The identity
/// (0, 1) keeps Fashion-MNIST's [0, 1] range. Every node, and <c>evaluate</c> through the
/// checkpoint's settings, applies the same scaling with the same float operations.
/// </summary>
public readonly record struct InputScaling(float Mean, float Std)
{
    private const string MeanKey = "input_mean", StdKey = "input_std";

    /// <summary>No scaling: inputs stay in [0, 1].</summary>
    public static InputScaling Identity => new(0f, 1f);

    /// <summary>True when applying it changes nothing.</summary>
    public bool IsIdentity => Mean == 0f && Std == 1f;

    /// <summary>Standardisation with the pixel statistics of the first <paramref name="count"/> samples (the training part).</summary>
    public static InputScaling StandardizeWith(Dataset data, int count)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (mean, std) = data.PixelStatistics(count);
        return new InputScaling(mean, std);
    }

    /// <summary>Scales <paramref name="data"/> in place (nothing to do for the identity).</summary>
    public void Apply(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!IsIdentity) data.Standardize(Mean, Std);
    }

    /// <summary>The checkpoint settings that record this scaling.</summary>
    public IReadOnlyDictionary<string, string> ToSettings() => new Dictionary<string, string>
    {
        [MeanKey] = Mean.ToString("R", CultureInfo.InvariantCulture),
        [StdKey] = Std.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>The scaling recorded in checkpoint settings; the identity when they hold none.</summary>
    public static InputScaling FromSettings(IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.TryGetValue(MeanKey, out var m) && settings.TryGetValue(StdKey, out var s)
            && float.TryParse(m, NumberStyles.Float, CultureInfo.InvariantCulture, out float mean)
            && float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float std)
            ? new InputScaling(mean, std)
            : Identity;
    }
}
