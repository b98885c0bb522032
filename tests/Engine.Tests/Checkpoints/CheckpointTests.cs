using Distributed.Engine.Checkpoints;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Tests.Checkpoints;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ckpt-tests-" + Guid.NewGuid().ToString("N"));

    public CheckpointTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Sequential Model(int hidden = 16) => new(TensorShape.Image(8, 8, 1),
    [
        new Conv2D(4, 3, useBias: false), new BatchNormalization(), new ReLU(), new Flatten(), new Dense(hidden, Activation.Relu), new Dense(10),
    ]);

    private static Checkpoint Sample(Sequential model)
    {
        model.InitializeWeights(7);
        for (int i = 0; i < model.State.Length; i++) model.State[i] = i * 0.5f;
        var velocity = Enumerable.Range(0, model.Weights.Length).Select(i => i * 1e-3f).ToArray();
        return Checkpoint.Capture(model, "{\"spec\":1}", velocity, epoch: 3, iteration: 420, new Dictionary<string, string> { ["lr"] = "0.01" });
    }

    [Fact]
    public void Save_and_load_round_trips_weights_state_velocity_and_position()
    {
        var model = Model();
        var ckpt = Sample(model);
        string path = Path.Combine(_dir, "checkpoints", "final.ckpt");
        ckpt.Save(path);

        var loaded = Checkpoint.Load(path);
        Assert.Equal(3, loaded.Header.Epoch);
        Assert.Equal(420, loaded.Header.Iteration);
        Assert.Equal("0.01", loaded.Header.Settings["lr"]);
        Assert.Equal("{\"spec\":1}", loaded.Header.ModelSpecJson);

        var fresh = Model();
        var velocity = new float[fresh.Weights.Length];
        loaded.Restore(fresh, velocity);
        Assert.Equal(model.Weights, fresh.Weights);
        Assert.Equal(model.State, fresh.State);
        Assert.Equal(ckpt.Velocity, velocity);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp-*"));
    }

    [Fact]
    public void A_flipped_byte_is_reported_as_a_checksum_mismatch()
    {
        string path = Path.Combine(_dir, "a.ckpt");
        Sample(Model()).Save(path);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void A_truncated_file_is_rejected_with_its_name()
    {
        string path = Path.Combine(_dir, "b.ckpt");
        Sample(Model()).Save(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_checkpoint_is_rejected()
    {
        string path = Path.Combine(_dir, "c.ckpt");
        File.WriteAllText(path, new string('x', 500));
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.Contains("not a checkpoint", e.Message);
    }

    [Fact]
    public void A_checkpoint_of_another_architecture_names_the_differing_layer()
    {
        string path = Path.Combine(_dir, "d.ckpt");
        Sample(Model(hidden: 16)).Save(path);
        var other = Model(hidden: 32);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path).Restore(other, source: path));
        Assert.Contains("different architecture", e.Message);
        Assert.Contains("Dense", e.Message);
        Assert.All(other.Weights, w => Assert.Equal(0f, w));
    }

    [Fact]
    public void A_missing_file_is_a_clear_error() =>
        Assert.Contains("no such checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Load(Path.Combine(_dir, "none.ckpt"))).Message);
}
