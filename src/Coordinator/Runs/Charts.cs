using Distributed.Engine.Training;
using ScottPlot;

namespace Distributed.Coordinator.Runs;

/// <summary>
/// The run folder's pictures, drawn with ScottPlot on SkiaSharp (no display needed): the training
/// curves per epoch and the test set's confusion matrix, as PNG files.
/// </summary>
public static class Charts
{
    private const string Font = "DejaVu Sans";

    /// <summary>Loss (left axis) and accuracy (right axis) per epoch, train and validation; 1000 × 560 px.</summary>
    public static void Curves(IReadOnlyList<EpochRow> epochs, string path)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        var plot = new Plot();
        plot.Font.Set(Font);
        double[] x = [.. epochs.Select(e => (double)e.Epoch)];
        void Line(double?[] values, string label, Color color, bool dashed, bool right)
        {
            var points = x.Zip(values).Where(p => p.Second is double v && double.IsFinite(v)).ToArray();
            if (points.Length == 0) return;
            var line = plot.Add.Scatter(points.Select(p => p.First).ToArray(), points.Select(p => p.Second!.Value).ToArray(), color);
            line.LegendText = label;
            line.LineWidth = 2;
            line.MarkerSize = 7;
            if (dashed) line.LinePattern = LinePattern.Dashed;
            if (right) line.Axes.YAxis = plot.Axes.Right;
        }
        var loss = Colors.FireBrick;
        var accuracy = Colors.SteelBlue;
        Line([.. epochs.Select(e => (double?)e.Loss)], "train loss", loss, false, false);
        Line([.. epochs.Select(e => e.ValLoss)], "validation loss", loss, true, false);
        Line([.. epochs.Select(e => (double?)e.Accuracy)], "train accuracy", accuracy, false, true);
        Line([.. epochs.Select(e => e.ValAccuracy)], "validation accuracy", accuracy, true, true);
        plot.Title("Training curves");
        plot.XLabel("epoch");
        plot.Axes.Left.Label.Text = "loss (cross-entropy)";
        plot.Axes.Right.Label.Text = "accuracy (top-1)";
        plot.Axes.Bottom.SetTicks(x, [.. x.Select(v => v.ToString("0", System.Globalization.CultureInfo.InvariantCulture))]);
        plot.ShowLegend(Alignment.MiddleRight);
        plot.SavePng(path, 1000, 560);
    }

    /// <summary>The confusion matrix as a heat map with the count in every cell; 900 × 820 px.</summary>
    public static void Confusion(ConfusionMatrix matrix, IReadOnlyList<string> classNames, string path)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.Classes;
        // Each row as a fraction of its class, so that the colours compare classes of different sizes.
        var share = new double[n, n];
        for (int a = 0; a < n; a++)
            for (int p = 0; p < n; p++)
                share[a, p] = matrix.RowTotal(a) == 0 ? 0 : (double)matrix[a, p] / matrix.RowTotal(a);
        var plot = new Plot();
        plot.Font.Set(Font);
        var map = plot.Add.Heatmap(share);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        for (int a = 0; a < n; a++)
            for (int p = 0; p < n; p++)
            {
                var text = plot.Add.Text(matrix[a, p].ToString(System.Globalization.CultureInfo.InvariantCulture), p, n - 1 - a);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 13;
                text.LabelFontColor = share[a, p] > 0.5 ? Colors.Black : Colors.White;
            }
        double[] ticks = [.. Enumerable.Range(0, n).Select(i => (double)i)];
        plot.Axes.Bottom.SetTicks(ticks, [.. classNames.Take(n)]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 40;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 120; // room for the rotated class names above the axis label
        plot.Axes.Margins(0, 0);
        plot.Axes.Left.SetTicks([.. ticks.Select(t => n - 1 - t)], [.. classNames.Take(n)]);
        plot.Axes.Bottom.Label.Text = "predicted class";
        plot.Axes.Left.Label.Text = "true class";
        plot.Title($"Test set confusion matrix ({Enumerable.Range(0, n).Sum(matrix.RowTotal):N0} samples)");
        plot.Add.ColorBar(map).Label = "share of the true class";
        plot.SavePng(path, 900, 820);
    }
}
