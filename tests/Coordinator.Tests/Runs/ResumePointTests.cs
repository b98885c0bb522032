using Distributed.Coordinator.Runs;
using Distributed.Engine.Checkpoints;
using Distributed.Engine.Models;

namespace Distributed.Coordinator.Tests.Runs;

public sealed class ResumePointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "resume-tests-" + Guid.NewGuid().ToString("N"));

    public ResumePointTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Save(string name, int epoch, long iteration, Dictionary<string, string>? settings = null)
    {
        var spec = BuiltInModels.Get("seed-simple");
        var model = spec.Build();
        model.InitializeWeights((ulong)iteration);
        string path = Path.Combine(_dir, name);
        Checkpoint.Capture(model, spec.ToJson(indented: false), new float[model.Weights.Length], epoch, iteration, settings).Save(path);
        return path;
    }

    [Fact]
    public void The_newest_checkpoint_by_iteration_wins_with_the_epoch_figures_it_carries()
    {
        Save("epoch-0001.ckpt", 1, 57);
        string newest = Save("iter-000000070.ckpt", 1, 70, new()
        {
            [ResumeSettings.EpochSamples] = "416", [ResumeSettings.EpochCorrect] = "300", [ResumeSettings.EpochLossSum] = "512.25",
        });
        Save("iter-000000063.ckpt", 1, 63);
        File.WriteAllText(Path.Combine(_dir, "iter-000000050.ckpt"), "damaged, but older: never read");
        Save("final.ckpt", 3, 171); // a finished run's: never a resume point

        var point = ResumePoint.Find(_dir)!;
        Assert.Equal(newest, point.Path);
        Assert.Equal(70, point.Iteration);
        Assert.Equal((416, 300L, 512.25), (point.EpochSamples, point.EpochCorrect, point.EpochLossSum));
        Assert.Empty(point.Skipped);
    }

    [Fact]
    public void A_damaged_newest_checkpoint_is_skipped_for_the_one_before_it()
    {
        string older = Save("iter-000000063.ckpt", 1, 63);
        string damaged = Save("iter-000000070.ckpt", 1, 70);
        var bytes = File.ReadAllBytes(damaged);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(damaged, bytes);

        var point = ResumePoint.Find(_dir)!;
        Assert.Equal(older, point.Path);
        Assert.Equal(0, point.EpochSamples);
        Assert.StartsWith("iter-000000070.ckpt: ", Assert.Single(point.Skipped));
    }

    [Fact]
    public void A_folder_without_a_loadable_checkpoint_has_no_resume_point()
    {
        Assert.Null(ResumePoint.Find(Path.Combine(_dir, "missing")));
        File.WriteAllText(Path.Combine(_dir, "iter-000000001.ckpt"), "not a checkpoint");
        Assert.Null(ResumePoint.Find(_dir));
    }
}
