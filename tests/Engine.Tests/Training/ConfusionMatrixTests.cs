using Distributed.Engine.Training;

namespace Distributed.Engine.Tests.Training;

public class ConfusionMatrixTests
{
    [Fact]
    public void Rows_are_true_classes_and_columns_predictions()
    {
        var m = new ConfusionMatrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3);
        Assert.Equal(1, m[0, 0]);
        Assert.Equal(1, m[0, 1]);
        Assert.Equal(1, m[2, 0]);
        Assert.Equal(2, m[2, 2]);
        Assert.Equal(3, m.RowTotal(2));
        Assert.Equal(2.0 / 3, m.Recall(2), 12);
        Assert.Equal(0, new ConfusionMatrix([0], [0], 2).Recall(1));
    }

    [Fact]
    public void Format_aligns_counts_under_class_indices()
    {
        var text = new ConfusionMatrix([0, 1, 1], [0, 1, 0], 2).Format(["cat", "dog"]);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("0 cat", lines[1]);
        Assert.EndsWith("1    0", lines[1].TrimEnd());
        Assert.EndsWith("1    1", lines[2].TrimEnd());
    }

    [Fact]
    public void Labels_or_predictions_outside_the_classes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new ConfusionMatrix([0, 3], [0, 0], 3));
        Assert.Throws<ArgumentException>(() => new ConfusionMatrix([0], [0, 1], 3));
    }
}
