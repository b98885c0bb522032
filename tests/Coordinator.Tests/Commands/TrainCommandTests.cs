using System.Text.Json;
using Distributed.Engine.Checkpoints;
using Distributed.Engine.Models;

namespace Distributed.Coordinator.Tests.Commands;

public sealed class TrainCommandTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "train-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_out)) Directory.Delete(_out, recursive: true);
    }

    [Fact]
    public void Single_process_training_on_the_slice_writes_metrics_and_checkpoints()
    {
        var (exit, output, error) = CliRunner.Run("train", "--single-process", "--model", "seed-simple", "--epochs", "2",
            "--batch", "64", "--lr", "0.05", "--momentum", "0.9", "--seed", "3", "--data-dir", CliRunner.SliceDirectory, "--out", _out);
        Assert.True(exit == 0, error);
        Assert.Contains("Epoch 1/2", output);
        Assert.Contains("Epoch 2/2", output);
        Assert.Matches(@"(?m)^test: loss=\d+\.\d+ top1=0\.\d+ top5=[01]\.\d+$", output);

        var rows = File.ReadAllLines(Path.Combine(_out, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var epochs = rows.Where(r => r.GetProperty("kind").GetString() == "epoch").ToList();
        Assert.Equal(2, epochs.Count);
        foreach (var e in epochs)
        {
            Assert.Equal(1800, e.GetProperty("samples").GetInt32()); // 2,000 minus the 10% validation split
            foreach (var key in new[] { "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "images_per_sec" })
                Assert.True(e.TryGetProperty(key, out _), key);
        }
        var final = Checkpoint.Load(Path.Combine(_out, "checkpoints", "final.ckpt"));
        Assert.Equal(2, final.Header.Epoch);
        Assert.Equal(2 * 29, final.Header.Iteration); // ⌈1800 / 64⌉ per epoch
        Assert.True(File.Exists(Path.Combine(_out, "logs", "coordinator.log")));
        Assert.Contains("report: ", output);
        Runs.ReportAssertions.HasPicturesAndReport(_out);

        // evaluate rebuilds the model from the checkpoint and reproduces the test line exactly.
        var (evalExit, evalOutput, evalError) = CliRunner.Run("evaluate", "--checkpoint", Path.Combine(_out, "checkpoints", "final.ckpt"),
            "--data-dir", CliRunner.SliceDirectory);
        Assert.True(evalExit == 0, evalError);
        string TestLine(string text) => text.Split('\n').Single(l => l.StartsWith("test: ", StringComparison.Ordinal));
        Assert.Equal(TestLine(output), TestLine(evalOutput));
        Assert.Contains("Ankle boot", evalOutput);
    }

    [Fact]
    public void Standardised_training_is_reproduced_by_evaluate()
    {
        var (exit, output, error) = CliRunner.Run("train", "--single-process", "--model", "seed-simple", "--epochs", "1", "--standardize",
            "--seed", "4", "--data-dir", CliRunner.SliceDirectory, "--out", _out);
        Assert.True(exit == 0, error);
        var checkpoint = Path.Combine(_out, "checkpoints", "final.ckpt");
        Assert.NotEqual("0", Checkpoint.Load(checkpoint).Header.Settings["input_mean"]);
        var (evalExit, evalOutput, _) = CliRunner.Run("evaluate", "--checkpoint", checkpoint, "--data-dir", CliRunner.SliceDirectory);
        Assert.Equal(0, evalExit);
        string TestLine(string text) => text.Split('\n').Single(l => l.StartsWith("test: ", StringComparison.Ordinal));
        Assert.Equal(TestLine(output), TestLine(evalOutput));

        // The exported ONNX model includes the standardisation: raw test pixels give the same top-1.
        string onnx = Path.Combine(_out, "model.onnx");
        var (exportExit, exportOutput, exportError) = CliRunner.Run("export", "--checkpoint", checkpoint, "--onnx", onnx);
        Assert.True(exportExit == 0, exportError);
        Assert.Contains("standardisation included", exportOutput);
        var test = Engine.Data.FashionMnist.Load(CliRunner.SliceDirectory).Test;
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx);
        var input = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(test.Images, [test.Count, 28, 28, 1]);
        using var results = session.Run([Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("input", input)]);
        var logits = results.First().AsTensor<float>().ToArray();
        int hits = Enumerable.Range(0, test.Count).Count(i => ArgMax(logits.AsSpan(i * 10, 10)) == test.Labels[i]);
        // Logits agree within 1e-4, so a near-tie may flip one sample's arg-max.
        double top1 = double.Parse(System.Text.RegularExpressions.Regex.Match(TestLine(evalOutput), @"top1=(\d\.\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(hits, (int)Math.Round(top1 * test.Count) - 1, (int)Math.Round(top1 * test.Count) + 1);
    }

    [Theory]
    [InlineData("--epochs", "0", "--epochs")]
    [InlineData("--batch", "abc", "--batch")]
    [InlineData("--lr", "-1", "--lr")]
    [InlineData("--momentum", "1.5", "--momentum")]
    [InlineData("--validation-split", "1", "--validation-split")]
    [InlineData("--epoch", "3", "--epochs")]
    public void Invalid_values_exit_with_code_2_and_name_the_option(string option, string value, string named)
    {
        var (exit, _, error) = CliRunner.Run("train", "--single-process", option, value, "--data-dir", CliRunner.SliceDirectory);
        Assert.Equal(2, exit);
        Assert.Contains(named, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void A_data_dir_without_the_files_is_an_error_not_a_fallback()
    {
        Directory.CreateDirectory(_out);
        var (exit, _, error) = CliRunner.Run("train", "--single-process", "--epochs", "1", "--data-dir", _out);
        Assert.Equal(1, exit);
        Assert.Contains(_out, error);
    }

    [Fact]
    public void A_corrupt_dataset_file_is_named_in_the_error()
    {
        Directory.CreateDirectory(_out);
        foreach (var f in Directory.GetFiles(CliRunner.SliceDirectory, "*.gz")) File.Copy(f, Path.Combine(_out, Path.GetFileName(f)));
        string images = Path.Combine(_out, "train-images-idx3-ubyte.gz");
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(bytes.Length / 2)]);
        var (exit, _, error) = CliRunner.Run("train", "--single-process", "--epochs", "1", "--model", "seed-simple", "--data-dir", _out);
        Assert.Equal(1, exit);
        Assert.Contains("train-images-idx3-ubyte.gz", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void A_file_that_is_not_a_checkpoint_is_rejected_clearly()
    {
        Directory.CreateDirectory(_out);
        string bogus = Path.Combine(_out, "bad.ckpt");
        File.WriteAllBytes(bogus, new byte[100]);
        var (exit, _, error) = CliRunner.Run("train", "--single-process", "--epochs", "1", "--model", "seed-simple",
            "--data-dir", CliRunner.SliceDirectory, "--init-from", bogus);
        Assert.Equal(1, exit);
        Assert.Contains("bad.ckpt", error);
        Assert.Contains("not a checkpoint", error);
    }

    [Fact]
    public void A_checkpoint_of_another_architecture_is_rejected_clearly()
    {
        var spec = BuiltInModels.Get("mobilenet-mini", new BuiltInModelOptions());
        var other = spec.Build();
        other.InitializeWeights(1);
        string path = Path.Combine(_out, "mobilenet-mini.ckpt");
        Checkpoint.Capture(other, spec.ToJson(indented: false), null, 1, 10).Save(path);
        var (exit, _, error) = CliRunner.Run("train", "--single-process", "--epochs", "1", "--model", "seed-simple",
            "--data-dir", CliRunner.SliceDirectory, "--init-from", path);
        Assert.Equal(1, exit);
        Assert.Contains("mobilenet-mini.ckpt", error);
        Assert.Contains("matches", error);
    }

    [Fact]
    public void Unknown_commands_and_missing_single_process_are_usage_errors()
    {
        Assert.Equal(2, CliRunner.Run("fly").Exit);
        var (exit, _, error) = CliRunner.Run("train", "--epochs", "1");
        Assert.Equal(2, exit);
        Assert.Contains("--single-process", error);
    }

    [Fact]
    public void Resume_takes_a_cluster_run_folder_and_no_other_settings()
    {
        var (exit, _, error) = CliRunner.Run("train", "--resume", _out, "--lr", "0.1");
        Assert.Equal(2, exit);
        Assert.Contains("drop --lr", error);
        (exit, _, error) = CliRunner.Run("train", "--resume", _out);
        Assert.Equal(2, exit);
        Assert.Contains("command.json", error);
        (exit, _, error) = CliRunner.Run("train", "--single-process", "--checkpoint-every", "5", "--data-dir", CliRunner.SliceDirectory);
        Assert.Equal(2, exit);
        Assert.Contains("--checkpoint-every is for cluster runs", error);
    }

    [Fact]
    public void Json_puts_one_metrics_row_per_line_on_stdout_and_the_text_on_stderr()
    {
        var (exit, output, error) = CliRunner.Run("train", "--single-process", "--model", "seed-simple", "--epochs", "2", "--batch", "128",
            "--data-dir", CliRunner.SliceDirectory, "--json", "--out", _out);
        Assert.True(exit == 0, error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["epoch", "epoch", "test"], rows.Select(r => r.GetProperty("kind").GetString()));
        Assert.Equal(1800, rows[0].GetProperty("samples").GetInt32());
        Assert.Contains("Epoch 2/2", error);
        Assert.Matches(@"(?m)^test: loss=\d+\.\d+ top1=0\.\d+", error);
    }

    [Fact]
    public void On_a_terminal_train_draws_a_live_progress_line_unless_quiet()
    {
        string[] args = ["train", "--single-process", "--model", "seed-simple", "--epochs", "1", "--batch", "128", "--data-dir", CliRunner.SliceDirectory];
        var quiet = new StringWriter();
        Assert.Equal(0, Distributed.Coordinator.Cli.CommandRouter.Run([.. args, "--quiet", "--out", _out + "-quiet"], quiet, new StringWriter(), interactive: true));
        Directory.Delete(_out + "-quiet", recursive: true);
        Assert.DoesNotContain("\r", quiet.ToString());
        Assert.Contains("Epoch 1/1", quiet.ToString());

        // Without --out the run gets a folder of its own under runs/.
        var output = new StringWriter();
        Assert.Equal(0, Distributed.Coordinator.Cli.CommandRouter.Run(args, output, new StringWriter(), interactive: true));
        Assert.Contains("\r15/15 [==============================] - ETA: 0s - loss: ", output.ToString());
        Assert.Contains("15/15 - ", output.ToString());

        var folder = System.Text.RegularExpressions.Regex.Match(output.ToString(), @"run folder (runs/\d{8}-\d{6}-seed-simple(-\d+)?)").Groups[1].Value;
        Assert.True(File.Exists(Path.Combine(folder, "report.md")), output.ToString());
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void Every_command_has_help()
    {
        foreach (var command in new[] { "summary", "train", "evaluate", "export" })
        {
            var (exit, output, _) = CliRunner.Run(command, "--help");
            Assert.Equal(0, exit);
            Assert.Contains("Usage:", output);
            Assert.Contains("Example:", output);
        }
    }

    [Theory]
    [InlineData("--onnx", "x.onnx", "--checkpoint is required")]
    [InlineData("--checkpoint", "a.ckpt", "--onnx is required")]
    public void Export_without_a_required_option_is_a_usage_error_that_names_it(string option, string value, string message)
    {
        var (exit, _, error) = CliRunner.Run("export", option, value);
        Assert.Equal(2, exit);
        Assert.Contains(message, error);
    }

    [Fact]
    public void Export_to_a_file_that_is_not_onnx_or_into_a_missing_folder_is_a_usage_error()
    {
        var (exit, _, error) = CliRunner.Run("export", "--checkpoint", "a.ckpt", "--onnx", "model.bin");
        Assert.Equal(2, exit);
        Assert.Contains("--onnx must name a .onnx file", error);
        (exit, _, error) = CliRunner.Run("export", "--checkpoint", "a.ckpt", "--onnx", Path.Combine(_out, "missing", "m.onnx"));
        Assert.Equal(2, exit);
        Assert.Contains("--onnx: the folder", error);
    }

    [Fact]
    public void Export_of_a_missing_checkpoint_fails_with_exit_1_and_names_the_file()
    {
        Directory.CreateDirectory(_out);
        var (exit, _, error) = CliRunner.Run("export", "--checkpoint", Path.Combine(_out, "none.ckpt"), "--onnx", Path.Combine(_out, "m.onnx"));
        Assert.Equal(1, exit);
        Assert.Contains("none.ckpt", error);
        Assert.False(File.Exists(Path.Combine(_out, "m.onnx")));
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
