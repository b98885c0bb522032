using System.Globalization;
using System.Text;

namespace Distributed.Engine.Models;

/// <summary>Formats Keras's <c>model.summary()</c> table.</summary>
public static class ModelSummary
{
    private const int NameWidth = 29, ShapeWidth = 26, ParamWidth = 10, MultAddWidth = 16;

    /// <summary>The table for <paramref name="model"/>.</summary>
    public static string Format(Sequential model, bool multAdds)
    {
        ArgumentNullException.ThrowIfNull(model);
        int width = NameWidth + ShapeWidth + ParamWidth + (multAdds ? MultAddWidth : 0);
        var sb = new StringBuilder();
        sb.Append("Model: \"sequential\"\n");
        sb.Append('_', width).Append('\n');
        AppendRow(sb, " Layer (type)", "Output Shape", "Param #", multAdds ? "Mult-Adds" : null);
        sb.Append('=', width).Append('\n');
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            long parameters = layer.ParameterCount + (long)layer.StateCount;
            AppendRow(sb, $" {layer.Name} ({layer.TypeName})", layer.OutputShape.ToKerasString(), Number(parameters),
                multAdds ? Number(layer.MultAdds) : null);
            if (i < model.Layers.Count - 1) sb.Append(' ', width).Append('\n');
        }
        sb.Append('=', width).Append('\n');
        sb.Append("Total params: ").Append(Number(model.TotalParameterCount)).Append('\n');
        sb.Append("Trainable params: ").Append(Number(model.TrainableParameterCount)).Append('\n');
        sb.Append("Non-trainable params: ").Append(Number(model.NonTrainableParameterCount)).Append('\n');
        if (multAdds) sb.Append("Total mult-adds: ").Append(Number(model.MultAdds)).Append(" per sample\n");
        sb.Append('_', width).Append('\n');
        return sb.ToString();
    }

    private static void AppendRow(StringBuilder sb, string name, string shape, string parameters, string? multAdds)
    {
        sb.Append(Pad(name, NameWidth)).Append(Pad(shape, ShapeWidth)).Append(Pad(parameters, ParamWidth));
        if (multAdds is not null) sb.Append(Pad(multAdds, MultAddWidth));
        sb.Append('\n');
    }

    // Like Keras, a cell wider than its column pushes the rest right rather than being cut.
    private static string Pad(string text, int width) => text.Length + 1 >= width ? text + " " : text.PadRight(width);

    /// <summary>Thousands separators, Keras-style: 17,404.</summary>
    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
