namespace Distributed.Coordinator.Tests.Commands;

public class SummaryCommandTests
{
    [Fact]
    public void Seed_simple_prints_keras_shapes_and_parameter_counts()
    {
        var (exit, output, _) = CliRunner.Run("summary", "--model", "seed-simple");
        Assert.Equal(0, exit);
        var rows = output.Split('\n');
        void Row(string type, string shape, string parameters) =>
            Assert.Contains(rows, r => r.Contains($"({type})") && r.Contains(shape) && r.TrimEnd().EndsWith(" " + parameters, StringComparison.Ordinal));
        Row("Conv2D", "(None, 26, 26, 3)", "30");
        Row("Conv2D", "(None, 24, 24, 3)", "84");
        Row("Flatten", "(None, 1728)", "0");
        Row("Dense", "(None, 10)", "17,290");
        Assert.Contains("Total params: 17,404", output);
    }

    [Fact]
    public void Mobilenet_224_with_1000_classes_matches_keras_totals()
    {
        var (exit, output, _) = CliRunner.Run("summary", "--model", "mobilenet", "--input", "224,224,3", "--classes", "1000");
        Assert.Equal(0, exit);
        Assert.Contains("Total params: 4,253,864", output);
        Assert.Contains("Trainable params: 4,231,976", output);
        Assert.Contains("Non-trainable params: 21,888", output);
    }

    [Fact]
    public void Mult_adds_column_is_optional()
    {
        var (exit, output, _) = CliRunner.Run("summary", "--model", "seed-simple", "--mult-adds");
        Assert.Equal(0, exit);
        Assert.Contains("Mult-Adds", output);
        Assert.Contains("18,252", output); // first conv: 26·26 pixels × 9 taps × 3 filters
    }

    [Fact]
    public void An_unknown_model_name_lists_the_built_in_names()
    {
        var (exit, _, error) = CliRunner.Run("summary", "--model", "resnet");
        Assert.Equal(1, exit);
        Assert.Contains("resnet", error);
        Assert.Contains("seed-simple", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Invalid_model_json_names_the_bad_key()
    {
        string path = Path.Combine(Path.GetTempPath(), $"model-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{"input_shape": [28, 28, 1], "layers": [{"class_name": "Dense", "unit": 10}]}""");
        try
        {
            var (exit, _, error) = CliRunner.Run("summary", "--model", path);
            Assert.Equal(1, exit);
            Assert.Contains("unit", error);
            Assert.Single(error.Trim().Split('\n'));
        }
        finally { File.Delete(path); }
    }
}
