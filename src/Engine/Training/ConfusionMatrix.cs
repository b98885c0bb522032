using System.Globalization;
using System.Text;

namespace Distributed.Engine.Training;

/// <summary>
/// Counts of (true class, predicted class) over a labelled set: row = true class, column = prediction.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly int[,] _counts;

    /// <summary>Counts <paramref name="predictions"/> against <paramref name="labels"/> (same length, classes 0..classes−1).</summary>
    public ConfusionMatrix(ReadOnlySpan<int> labels, ReadOnlySpan<int> predictions, int classes)
    {
        if (labels.Length != predictions.Length) throw new ArgumentException($"{labels.Length} labels but {predictions.Length} predictions");
        if (classes <= 0) throw new ArgumentOutOfRangeException(nameof(classes));
        Classes = classes;
        _counts = new int[classes, classes];
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes || (uint)predictions[i] >= (uint)classes)
                throw new ArgumentException($"sample {i}: label {labels[i]} or prediction {predictions[i]} is not a class of 0..{classes - 1}");
            _counts[labels[i], predictions[i]]++;
        }
    }

    /// <summary>Number of classes (rows and columns).</summary>
    public int Classes { get; }

    /// <summary>Samples of true class <paramref name="actual"/> predicted as <paramref name="predicted"/>.</summary>
    public int this[int actual, int predicted] => _counts[actual, predicted];

    /// <summary>Samples whose true class is <paramref name="actual"/>.</summary>
    public int RowTotal(int actual) => Enumerable.Range(0, Classes).Sum(p => _counts[actual, p]);

    /// <summary>Fraction of class <paramref name="actual"/> predicted correctly (0 when it has no samples).</summary>
    public double Recall(int actual) => RowTotal(actual) is int total and > 0 ? (double)_counts[actual, actual] / total : 0;

    /// <summary>The matrix as an aligned text table with class names (rows: true class, columns: prediction).</summary>
    public string Format(IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        const string corner = "true \\ predicted";
        int nameWidth = Math.Max(corner.Length, classNames.Max(n => n.Length) + Classes.ToString(CultureInfo.InvariantCulture).Length + 1);
        int cell = Math.Max(5, Enumerable.Range(0, Classes).Max(a => RowTotal(a)).ToString(CultureInfo.InvariantCulture).Length + 1);
        var text = new StringBuilder();
        text.Append(corner.PadRight(nameWidth));
        for (int p = 0; p < Classes; p++) text.Append(p.ToString(CultureInfo.InvariantCulture).PadLeft(cell));
        text.AppendLine();
        for (int a = 0; a < Classes; a++)
        {
            text.Append($"{a} {classNames[a]}".PadRight(nameWidth));
            for (int p = 0; p < Classes; p++) text.Append(_counts[a, p].ToString(CultureInfo.InvariantCulture).PadLeft(cell));
            text.AppendLine();
        }
        return text.ToString();
    }
}
