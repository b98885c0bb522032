using System.Text.Json;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;

namespace Distributed.Engine.Tests.Optimizers;

public class SgdTests
{
    [Theory]
    [InlineData("sgd_plain.json")]
    [InlineData("sgd_momentum_wd.json")]
    [InlineData("sgd_nesterov_wd.json")]
    public void Five_steps_match_torch_optim_sgd(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "golden", file)));
        var root = doc.RootElement;
        var config = root.GetProperty("config");
        var sgd = new Sgd(new SgdOptions(
            LearningRate: config.GetProperty("lr").GetSingle(),
            Momentum: config.GetProperty("momentum").GetSingle(),
            Nesterov: config.GetProperty("nesterov").GetBoolean(),
            WeightDecay: config.GetProperty("weight_decay").GetSingle()));
        float[] Data(JsonElement t) => t.GetProperty("data").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var grads = root.GetProperty("grads").EnumerateArray().Select(Data).ToArray();
        var parameters = root.GetProperty("params").EnumerateArray().Select(Data).ToArray();

        var w = parameters[0].ToArray();
        var v = new float[w.Length];
        ParameterSegment[] all = [new(0, w.Length)];
        for (int step = 0; step < grads.Length; step++)
        {
            sgd.Step(w, grads[step], v, all, sgd.LearningRateAt(step, 0));
            var expected = parameters[step + 1];
            for (int i = 0; i < w.Length; i++)
                Assert.True(Math.Abs(w[i] - expected[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]), $"{file} step {step + 1} w[{i}]: expected {expected[i]}, got {w[i]}");
        }
    }

    [Fact]
    public void Defaults_are_keras_defaults()
    {
        var o = new SgdOptions();
        Assert.Equal(0.01f, o.LearningRate);
        Assert.Equal(0f, o.Momentum);
        Assert.Equal(0f, o.WeightDecay);
        Assert.Equal(0f, o.Decay);
        Assert.False(o.Nesterov);
    }

    [Fact]
    public void Keras_decay_divides_the_rate_by_one_plus_decay_times_iterations()
    {
        var sgd = new Sgd(new SgdOptions(LearningRate: 0.1f, Decay: 0.01f));
        Assert.Equal(0.1f, sgd.LearningRateAt(0, 0));
        Assert.Equal(0.1f / 2f, sgd.LearningRateAt(100, 0), 6);
    }

    [Fact]
    public void Step_schedule_multiplies_by_gamma_every_step_epochs()
    {
        var sgd = new Sgd(new SgdOptions(LearningRate: 0.1f, StepEpochs: 2, StepGamma: 0.5f));
        Assert.Equal(0.1f, sgd.LearningRateAt(0, 1), 6);
        Assert.Equal(0.05f, sgd.LearningRateAt(0, 2), 6);
        Assert.Equal(0.025f, sgd.LearningRateAt(0, 5), 6);
    }

    [Fact]
    public void Segments_outside_the_list_are_never_touched()
    {
        var sgd = new Sgd(new SgdOptions(LearningRate: 0.5f, Momentum: 0.9f, WeightDecay: 0.1f));
        var w = new float[] { 1, 2, 3, 4 };
        var g = new float[] { 1, 1, 1, 1 };
        var v = new float[4];
        sgd.Step(w, g, v, [new ParameterSegment(1, 2)], 0.5f);
        Assert.Equal(1f, w[0]);
        Assert.Equal(4f, w[3]);
        Assert.NotEqual(2f, w[1]);
    }

    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(-0.1f, 0f)]
    [InlineData(0.01f, 1f)]
    [InlineData(0.01f, -0.5f)]
    public void Out_of_range_options_are_rejected(float lr, float momentum) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(new SgdOptions(LearningRate: lr, Momentum: momentum)));
}
