using Distributed.Coordinator.Cli;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Tests.Cli;

public sealed class OptionSourcesTests : IDisposable
{
    private static readonly string[] Options = ["--lr", "--epochs", "--model", "--nesterov", "--data-dir", "--config"];
    private static readonly string[] Flags = ["--nesterov"];
    private readonly string _dir = Directory.CreateTempSubdirectory("option-sources-").FullName;

    public void Dispose()
    {
        // TrainCommand.Run (called directly, not through the router) pointed the global logger into _dir.
        Serilog.Log.CloseAndFlush();
        Directory.Delete(_dir, recursive: true);
    }

    private string Config(string json)
    {
        string path = Path.Combine(_dir, "train.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Command_line_wins_over_environment_which_wins_over_the_config_file()
    {
        string config = Config("""{"lr": 0.5, "epochs": 7, "model": "seed-simple", "nesterov": true}""");
        var (args, sources) = OptionSources.Merge(["--lr", "0.1", "--config", config], Options, Flags, Env(("DISTRIBUTED_EPOCHS", "3")));
        Assert.Equal(["--lr", "0.1", "--epochs", "3", "--model", "seed-simple", "--nesterov"], args);
        Assert.Equal(["DISTRIBUTED_EPOCHS", "train.json:model", "train.json:nesterov"], sources);
    }

    [Fact]
    public void Environment_names_are_the_option_in_capitals_with_underscores_and_flags_take_true_or_false()
    {
        Assert.Equal("DISTRIBUTED_DATA_DIR", OptionSources.VariableOf("--data-dir"));
        var (args, _) = OptionSources.Merge([], Options, Flags, Env(("DISTRIBUTED_DATA_DIR", "/d"), ("DISTRIBUTED_NESTEROV", "true")));
        Assert.Equal(["--nesterov", "--data-dir", "/d"], args);
        (args, _) = OptionSources.Merge([], Options, Flags, Env(("DISTRIBUTED_NESTEROV", "0")));
        Assert.Empty(args);
        var e = Assert.Throws<UsageException>(() => OptionSources.Merge([], Options, Flags, Env(("DISTRIBUTED_NESTEROV", "maybe"))));
        Assert.Contains("DISTRIBUTED_NESTEROV=maybe: --nesterov is a flag", e.Message);
    }

    [Fact]
    public void An_option_of_the_mode_chosen_on_the_command_line_keeps_the_other_modes_options_out()
    {
        string[] options = ["--single-process", "--threads", "--workers", "--port", "--lr"];
        IReadOnlyCollection<string>[] exclusive = [["--single-process", "--threads"], ["--workers", "--port"]];
        var env = Env(("DISTRIBUTED_WORKERS", "4"), ("DISTRIBUTED_PORT", "4053"), ("DISTRIBUTED_THREADS", "2"), ("DISTRIBUTED_LR", "0.1"));
        var (args, _) = OptionSources.Merge(["--single-process"], options, ["--single-process"], env, exclusive);
        Assert.Equal(["--single-process", "--threads", "2", "--lr", "0.1"], args);
        (args, _) = OptionSources.Merge(["--workers", "2"], options, ["--single-process"], env, exclusive);
        Assert.Equal(["--workers", "2", "--port", "4053", "--lr", "0.1"], args);
    }

    [Fact]
    public void Recorded_console_options_do_not_stop_a_resume_from_reading_the_settings()
    {
        // command.json holds the arguments as given; --resume replays them through TrainSettings.Read.
        var settings = Distributed.Coordinator.Commands.TrainSettings.Read(new ArgumentReader(["--workers", "2", "--quiet", "--json", "--lr", "0.1"]));
        Assert.Equal(0.1f, settings.Optimizer.LearningRate);
    }

    [Fact]
    public void The_config_file_may_come_from_the_environment()
    {
        string config = Config("""{"epochs": 2}""");
        var (args, _) = OptionSources.Merge([], Options, Flags, Env(("DISTRIBUTED_CONFIG", config)));
        Assert.Equal(["--epochs", "2"], args);
    }

    [Theory]
    [InlineData("""{"learning_rate": 0.1}""", "unknown option 'learning_rate'; the options are data-dir, epochs, lr, model, nesterov")]
    [InlineData("""{"nesterov": 1}""", "'nesterov' must be true or false, got number")]
    [InlineData("""{"lr": [0.1]}""", "'lr' must be a number or a string, got array")]
    [InlineData("""[1, 2]""", "expected a JSON object of options")]
    [InlineData("""{"lr": """, "not valid JSON")]
    public void A_bad_config_file_is_a_usage_error_that_names_the_file_and_the_problem(string json, string message)
    {
        string config = Config(json);
        var e = Assert.Throws<UsageException>(() => OptionSources.Merge(["--config", config], Options, Flags, Env()));
        Assert.Contains($"--config {config}: ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_missing_config_file_is_a_usage_error()
    {
        var e = Assert.Throws<UsageException>(() => OptionSources.Merge(["--config", Path.Combine(_dir, "none.json")], Options, Flags, Env()));
        Assert.Contains("file not found", e.Message);
        Assert.Throws<UsageException>(() => OptionSources.Merge(["--config"], Options, Flags, Env()));
    }

    [Fact]
    public void Train_prints_the_effective_configuration_and_where_options_came_from()
    {
        string config = Config("""{"model": "seed-simple", "epochs": 1, "batch": 128}""");
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Distributed.Coordinator.Commands.TrainCommand.Run(new ArgumentReader(["--single-process", "--config", config]), new CliConsole(output, error, false),
            Env(("DISTRIBUTED_LR", "0.05"), ("DISTRIBUTED_DATA_DIR", CliRunner.SliceDirectory), ("DISTRIBUTED_OUT", Path.Combine(_dir, "run"))));
        Assert.True(exit == 0, error.ToString());
        string first = output.ToString().Split('\n')[0];
        Assert.StartsWith("configuration: model=seed-simple epochs=1 batch=128 ", first);
        Assert.Contains(" lr=0.05 ", first);
        Assert.Contains("single process", first);
        Assert.Contains("(not from the command line: ", first);
        foreach (string source in new[] { "DISTRIBUTED_LR", "DISTRIBUTED_DATA_DIR", "train.json:model", "train.json:epochs", "train.json:batch" })
            Assert.Contains(source, first);
        Assert.Contains("Epoch 1/1", output.ToString());
        Assert.True(File.Exists(Path.Combine(_dir, "run", "report.md")));
    }
}
