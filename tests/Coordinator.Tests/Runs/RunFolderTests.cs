using Distributed.Coordinator.Runs;

namespace Distributed.Coordinator.Tests.Runs;

public sealed class RunFolderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "run-folder-tests-" + Guid.NewGuid().ToString("N"));

    public RunFolderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Pruning_keeps_the_newest_epoch_checkpoints_and_every_other_file()
    {
        string[] names = ["epoch-0001.ckpt", "epoch-0002.ckpt", "epoch-0003.ckpt", "epoch-0004.ckpt", "epoch-0005.ckpt", "iter-000000070.ckpt", "final.ckpt"];
        foreach (var name in names) File.WriteAllBytes(Path.Combine(_dir, name), [1]);

        var deleted = RunFolder.PruneEpochCheckpoints(_dir);

        Assert.Equal(["epoch-0001.ckpt", "epoch-0002.ckpt"], deleted.Select(Path.GetFileName));
        Assert.Equal(["epoch-0003.ckpt", "epoch-0004.ckpt", "epoch-0005.ckpt", "final.ckpt", "iter-000000070.ckpt"],
            Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(RunFolder.PruneEpochCheckpoints(_dir));
    }
}
