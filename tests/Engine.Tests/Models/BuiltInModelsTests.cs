using System.Text.RegularExpressions;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;
using Xunit;

namespace Distributed.Engine.Tests.Models;

public sealed class BuiltInModelsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "builtin-models-tests-" + Guid.NewGuid().ToString("N"));

    public BuiltInModelsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The summary's layer rows as (layer, output shape, param #).</summary>
    private static List<(string Layer, string Shape, string Params)> Rows(string summary)
    {
        var rows = new List<(string, string, string)>();
        bool inTable = false;
        foreach (var line in summary.Split('\n'))
        {
            if (line.StartsWith('=')) { inTable = !inTable; continue; }
            if (!inTable || line.Trim().Length == 0) continue;
            // A cell wider than its column pushes the rest right (one space), so match rather than cut columns.
            var m = Regex.Match(line, @"^ (\S+ \(\w+\)) +(\(None(?:, \d+)+\)) +([\d,]+) *$");
            Assert.True(m.Success, $"unexpected summary row '{line}'");
            rows.Add((m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value));
        }
        return rows;
    }

    [Fact]
    public void Names_lists_the_four_built_ins_and_each_round_trips()
    {
        Assert.Equal(["seed-simple", "keras-mnist-cnn", "mobilenet", "mobilenet-mini"], BuiltInModels.Names);
        foreach (var name in BuiltInModels.Names)
        {
            var spec = BuiltInModels.Get(name, new BuiltInModelOptions());
            Assert.Equal(spec, ModelSpec.Parse(spec.ToJson()));
            Assert.Equal(spec.WithName(null), ModelSpec.FromModel(spec.Build()));
        }
    }

    [Fact]
    public void Seed_simple_summary_matches_keras()
    {
        string summary = BuiltInModels.Get("seed-simple", new BuiltInModelOptions()).Build().Summary();

        Assert.Equal(
        [
            ("conv2d (Conv2D)", "(None, 26, 26, 3)", "30"),        // 3·3·1·3 + 3
            ("conv2d_1 (Conv2D)", "(None, 24, 24, 3)", "84"),      // 3·3·3·3 + 3
            ("flatten (Flatten)", "(None, 1728)", "0"),            // 24·24·3
            ("dense (Dense)", "(None, 10)", "17,290"),             // 1728·10 + 10
        ], Rows(summary));
        Assert.Contains("Total params: 17,404\n", summary);
        Assert.Contains("Trainable params: 17,404\n", summary);
        Assert.Contains("Non-trainable params: 0\n", summary);
    }

    [Fact]
    public void Keras_mnist_cnn_shapes_and_parameters()
    {
        var model = BuiltInModels.Get("keras-mnist-cnn", new BuiltInModelOptions()).Build();

        Assert.Equal(
        [
            ("conv2d (Conv2D)", "(None, 26, 26, 32)", "320"),          // 3·3·1·32 + 32
            ("conv2d_1 (Conv2D)", "(None, 24, 24, 64)", "18,496"),     // 3·3·32·64 + 64
            ("max_pooling2d (MaxPooling2D)", "(None, 12, 12, 64)", "0"),
            ("dropout (Dropout)", "(None, 12, 12, 64)", "0"),
            ("flatten (Flatten)", "(None, 9216)", "0"),                // 12·12·64
            ("dense (Dense)", "(None, 128)", "1,179,776"),             // 9216·128 + 128
            ("dropout_1 (Dropout)", "(None, 128)", "0"),
            ("dense_1 (Dense)", "(None, 10)", "1,290"),                // 128·10 + 10
        ], Rows(model.Summary()));
        Assert.Equal(1_199_882, model.TotalParameterCount);
        Assert.Equal(1_199_882, model.TrainableParameterCount);
        Assert.Equal(0.25f, ((Distributed.Engine.Layers.Dropout)model.Layers[3]).Rate);
        Assert.Equal(0.5f, ((Distributed.Engine.Layers.Dropout)model.Layers[6]).Rate);
    }

    [Fact]
    public void Mobilenet_totals_match_keras_applications_MobileNet()
    {
        var spec = BuiltInModels.Get("mobilenet", new BuiltInModelOptions());
        var model = spec.Build();
        string summary = model.Summary();

        Assert.Contains("Total params: 4,253,864\n", summary);
        Assert.Contains("Trainable params: 4,231,976\n", summary);
        Assert.Contains("Non-trainable params: 21,888\n", summary);

        Assert.Equal("mobilenet_1.00_224", spec.Name);
        Assert.Equal(TensorShape.Image(224, 224, 3), model.InputShape);
        // Stem (3) + 13 blocks (6 each) + pooling, dropout, classifier.
        Assert.Equal(3 + 13 * 6 + 3, model.Layers.Count);
        Assert.Equal(TensorShape.Image(112, 112, 32), model["conv1_relu"].OutputShape);
        Assert.Equal(TensorShape.Image(56, 56, 128), model["conv_pw_2"].OutputShape);
        Assert.Equal(TensorShape.Image(7, 7, 1024), model["conv_pw_13_relu"].OutputShape);
        Assert.Equal(TensorShape.Vector(1000), model["conv_preds"].OutputShape);
        Assert.Equal(1_025_000, model["conv_preds"].ParameterCount); // 1024·1000 + 1000, as Keras's 1×1 conv_preds
        Assert.Equal(0.001f, ((Distributed.Engine.Layers.Dropout)model["dropout"]).Rate);
        var bn = (Distributed.Engine.Layers.BatchNormalization)model["conv_dw_5_bn"];
        Assert.Equal((0.99f, 1e-3f), (bn.Momentum, bn.Epsilon));
    }

    [Theory]
    // Computed as Σ conv weights + 4·BN channels + head (classes·(C+1)); non-trainable = 2·BN channels.
    // alpha 0.5: channels 16, 32, 64, 64, 128, 128, 256 ×6, 512, 512; Keras lists 1,342,536 for mobilenet_0.50_224.
    [InlineData(0.5f, 1_342_536, 1_331_592, 10_944)]
    // alpha 0.25: Keras lists 475,544 for mobilenet_0.25_224.
    [InlineData(0.25f, 475_544, 470_072, 5_472)]
    [InlineData(0.75f, 2_601_976, 2_585_560, 16_416)]
    public void Mobilenet_alpha_scales_channels_as_keras(float alpha, long total, long trainable, long nonTrainable)
    {
        var model = BuiltInModels.Get("mobilenet", new BuiltInModelOptions(Alpha: alpha)).Build();
        Assert.Equal((total, trainable, nonTrainable), (model.TotalParameterCount, model.TrainableParameterCount, model.NonTrainableParameterCount));
    }

    [Fact]
    public void Mobilenet_options_override_input_and_classes()
    {
        var spec = BuiltInModels.Get("mobilenet", new BuiltInModelOptions(TensorShape.Image(32, 32, 3), Classes: 10));
        var model = spec.Build();

        Assert.Equal("mobilenet_1.00_32", spec.Name);
        Assert.Equal(TensorShape.Image(1, 1, 1024), model["conv_pw_13_relu"].OutputShape); // 32 / 2⁵
        Assert.Equal(TensorShape.Vector(10), model.OutputShape);
        // 4,253,864 − 1,025,000 + 1024·10 + 10 (weights do not depend on the image size).
        Assert.Equal(3_239_114, model.TotalParameterCount);
    }

    [Fact]
    public void Mobilenet_mini_shapes_and_parameters()
    {
        var model = BuiltInModels.Get("mobilenet-mini", new BuiltInModelOptions()).Build();

        // Per layer: conv weights (no bias), BN 4·C (2·C trainable gamma/beta + 2·C moving statistics).
        var expected = new (string, TensorShape, long)[]
        {
            ("conv1", TensorShape.Image(28, 28, 32), 288),             // 3·3·1·32
            ("conv1_bn", TensorShape.Image(28, 28, 32), 128),
            ("conv1_relu", TensorShape.Image(28, 28, 32), 0),
            ("conv_dw_1", TensorShape.Image(28, 28, 32), 288),         // 3·3·32
            ("conv_dw_1_bn", TensorShape.Image(28, 28, 32), 128),
            ("conv_dw_1_relu", TensorShape.Image(28, 28, 32), 0),
            ("conv_pw_1", TensorShape.Image(28, 28, 64), 2_048),       // 32·64
            ("conv_pw_1_bn", TensorShape.Image(28, 28, 64), 256),
            ("conv_pw_1_relu", TensorShape.Image(28, 28, 64), 0),
            ("conv_dw_2", TensorShape.Image(14, 14, 64), 576),         // stride 2
            ("conv_dw_2_bn", TensorShape.Image(14, 14, 64), 256),
            ("conv_dw_2_relu", TensorShape.Image(14, 14, 64), 0),
            ("conv_pw_2", TensorShape.Image(14, 14, 128), 8_192),      // 64·128
            ("conv_pw_2_bn", TensorShape.Image(14, 14, 128), 512),
            ("conv_pw_2_relu", TensorShape.Image(14, 14, 128), 0),
            ("conv_dw_3", TensorShape.Image(14, 14, 128), 1_152),
            ("conv_dw_3_bn", TensorShape.Image(14, 14, 128), 512),
            ("conv_dw_3_relu", TensorShape.Image(14, 14, 128), 0),
            ("conv_pw_3", TensorShape.Image(14, 14, 128), 16_384),     // 128·128
            ("conv_pw_3_bn", TensorShape.Image(14, 14, 128), 512),
            ("conv_pw_3_relu", TensorShape.Image(14, 14, 128), 0),
            ("conv_dw_4", TensorShape.Image(7, 7, 128), 1_152),        // stride 2
            ("conv_dw_4_bn", TensorShape.Image(7, 7, 128), 512),
            ("conv_dw_4_relu", TensorShape.Image(7, 7, 128), 0),
            ("conv_pw_4", TensorShape.Image(7, 7, 256), 32_768),       // 128·256
            ("conv_pw_4_bn", TensorShape.Image(7, 7, 256), 1_024),
            ("conv_pw_4_relu", TensorShape.Image(7, 7, 256), 0),
            ("conv_dw_5", TensorShape.Image(7, 7, 256), 2_304),
            ("conv_dw_5_bn", TensorShape.Image(7, 7, 256), 1_024),
            ("conv_dw_5_relu", TensorShape.Image(7, 7, 256), 0),
            ("conv_pw_5", TensorShape.Image(7, 7, 256), 65_536),       // 256·256
            ("conv_pw_5_bn", TensorShape.Image(7, 7, 256), 1_024),
            ("conv_pw_5_relu", TensorShape.Image(7, 7, 256), 0),
            ("global_average_pooling2d", TensorShape.Vector(256), 0),
            ("dense", TensorShape.Vector(10), 2_570),                  // 256·10 + 10
        };
        Assert.Equal(expected, model.Layers.Select(l => (l.Name, l.OutputShape, (long)l.ParameterCount + l.StateCount)));
        // Conv weights 130,688 + BN 4·1,472 = 5,888 + head 2,570; BN channels 32+96+192+256+384+512 = 1,472.
        Assert.Equal(139_146, model.TotalParameterCount);
        Assert.Equal(136_202, model.TrainableParameterCount);
        Assert.Equal(2_944, model.NonTrainableParameterCount);
    }

    [Fact]
    public void Small_models_take_classes_and_input_shape()
    {
        var model = BuiltInModels.Get("seed-simple", new BuiltInModelOptions(TensorShape.Image(32, 32, 3), Classes: 5)).Build();
        // conv2d 3·3·3·3 + 3 = 84; conv2d_1 84; flatten 28·28·3 = 2,352; dense 2,352·5 + 5 = 11,765.
        Assert.Equal(TensorShape.Vector(5), model.OutputShape);
        Assert.Equal(84 + 84 + 11_765, model.TotalParameterCount);

        var mini = BuiltInModels.Get("mobilenet-mini", new BuiltInModelOptions(Classes: 3, Alpha: 0.5f)).Build();
        // alpha 0.5: channels 16, 32, 64, 64, 128, 128; 34,112 conv weights + 4·736 BN + 128·3 + 3.
        Assert.Equal(34_112 + 4 * 736 + 387, mini.TotalParameterCount);
    }

    [Theory]
    [InlineData("seed-simple")]
    [InlineData("keras-mnist-cnn")]
    public void Alpha_other_than_1_is_rejected_for_models_without_a_width_multiplier(string name)
    {
        var e = Assert.Throws<ModelSpecException>(() => BuiltInModels.Get(name, new BuiltInModelOptions(Alpha: 0.5f)));
        Assert.Equal($"alpha applies only to mobilenet and mobilenet-mini, not to {name} (got 0.5)", e.Message);
    }

    [Fact]
    public void Invalid_options_are_ModelSpecExceptions()
    {
        Assert.Contains("alpha must be a positive number", Assert.Throws<ModelSpecException>(() => BuiltInModels.Get("mobilenet", new BuiltInModelOptions(Alpha: 0f))).Message);
        Assert.Contains("no channels", Assert.Throws<ModelSpecException>(() => BuiltInModels.Get("mobilenet", new BuiltInModelOptions(Alpha: 0.01f))).Message);
        Assert.Contains("classes must be positive", Assert.Throws<ModelSpecException>(() => BuiltInModels.Get("seed-simple", new BuiltInModelOptions(Classes: 0))).Message);
        Assert.Contains("1 to 3 dimensions", Assert.Throws<ModelSpecException>(() => BuiltInModels.Get("seed-simple", new BuiltInModelOptions(new TensorShape(1, 2, 3, 4)))).Message);
    }

    [Fact]
    public void Unknown_names_list_the_built_ins()
    {
        var e = Assert.Throws<ModelSpecException>(() => BuiltInModels.Get("mobilenett", new BuiltInModelOptions()));
        Assert.Equal("unknown model 'mobilenett'; did you mean 'mobilenet'? (built-in models: seed-simple, keras-mnist-cnn, mobilenet, mobilenet-mini; or give the path of a .json model spec)", e.Message);

        e = Assert.Throws<ModelSpecException>(() => BuiltInModels.Resolve("resnet50", new BuiltInModelOptions()));
        Assert.Contains("unknown model 'resnet50' (built-in models: seed-simple, keras-mnist-cnn, mobilenet, mobilenet-mini;", e.Message);
    }

    [Fact]
    public void Resolve_takes_a_name_or_a_json_file_and_applies_the_overrides_to_files()
    {
        Assert.Equal(BuiltInModels.Get("mobilenet-mini", new BuiltInModelOptions()), BuiltInModels.Resolve("mobilenet-mini", new BuiltInModelOptions()));

        string path = Path.Combine(_dir, "mine.json");
        var seed = BuiltInModels.Get("seed-simple", new BuiltInModelOptions());
        File.WriteAllText(path, seed.ToJson());
        Assert.Equal(seed, BuiltInModels.Resolve(path, new BuiltInModelOptions()));

        var overridden = BuiltInModels.Resolve(path, new BuiltInModelOptions(TensorShape.Image(30, 30, 1), Classes: 4));
        Assert.Equal(TensorShape.Image(30, 30, 1), overridden.InputShape);
        Assert.Equal(4, overridden.Layers[^1].Config["units"]);

        Assert.Contains("alpha applies only to the built-in", Assert.Throws<ModelSpecException>(() => BuiltInModels.Resolve(path, new BuiltInModelOptions(Alpha: 0.5f))).Message);

        string missing = Path.Combine(_dir, "missing.json");
        var e = Assert.Throws<ModelSpecException>(() => BuiltInModels.Resolve(missing, new BuiltInModelOptions()));
        Assert.Contains(missing, e.Message);
    }
}
