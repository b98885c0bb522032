namespace Distributed.Coordinator.Tests.Cli;

public class CommandRouterTests
{
    [Theory]
    [InlineData("--epochs", "0", "train", "--single-process")]
    [InlineData("--lr", "abc", "train", "--single-process")]
    [InlineData("--micro-shard", "-3", "train", "--workers", "2")]
    [InlineData("--classes", "0", "summary", "--model", "seed-simple")]
    [InlineData("--alpha", "x", "summary", "--model", "mobilenet")]
    [InlineData("--bogus", "1", "evaluate", "--checkpoint", "a.ckpt")]
    [InlineData("--onnx", "model.txt", "export", "--checkpoint", "a.ckpt")]
    public void An_invalid_value_exits_2_with_one_line_that_names_the_option(string option, string value, params string[] command)
    {
        var (exit, output, error) = CliRunner.Run([.. command, option, value]);
        Assert.Equal(2, exit);
        Assert.Contains(option, error);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(output);
    }

    [Fact]
    public void An_unknown_command_exits_2_and_lists_the_commands()
    {
        var (exit, _, error) = CliRunner.Run("fit");
        Assert.Equal(2, exit);
        Assert.Contains("summary, train, evaluate, export and certs", error);
    }
}
