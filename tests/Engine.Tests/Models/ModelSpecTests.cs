using System.Collections.Immutable;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;
using Xunit;

namespace Distributed.Engine.Tests.Models;

public sealed class ModelSpecTests : IDisposable
{
    private const string Example = """
        {"input_shape": [28, 28, 1], "layers": [
          {"class_name": "Conv2D", "filters": 32, "kernel_size": 3, "strides": 1, "padding": "valid", "activation": "relu"},
          {"class_name": "MaxPooling2D", "pool_size": 2},
          {"class_name": "Dense", "units": 10}
        ]}
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "modelspec-tests-" + Guid.NewGuid().ToString("N"));

    public ModelSpecTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A spec with the given layer objects on a 28×28×1 input.</summary>
    private static string Spec(params string[] layers) => $$"""{"input_shape": [28, 28, 1], "layers": [{{string.Join(", ", layers)}}]}""";

    /// <summary>A canonical [h, w] value as an array (ImmutableArray compares by reference).</summary>
    private static int[] Pair(object? value) => [.. Assert.IsType<ImmutableArray<int>>(value)];

    private static ModelSpecException Fails(string json)
    {
        var e = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void Example_parses_into_canonical_layers()
    {
        var spec = ModelSpec.Parse(Example);

        Assert.Equal(TensorShape.Image(28, 28, 1), spec.InputShape);
        Assert.Null(spec.Name);
        Assert.Equal(["Conv2D", "MaxPooling2D", "Dense"], spec.Layers.Select(l => l.ClassName));
        var conv = spec.Layers[0].Config;
        Assert.Equal(32, conv["filters"]);
        Assert.Equal([3, 3], Pair(conv["kernel_size"]));
        Assert.Equal([1, 1], Pair(conv["strides"]));
        Assert.Equal("valid", conv["padding"]);
        Assert.Equal(true, conv["use_bias"]);
        Assert.Equal("relu", conv["activation"]);
        // Pooling strides default to the pool size, as in Keras.
        Assert.Equal([2, 2], Pair(spec.Layers[1].Config["strides"]));
        Assert.Equal("linear", spec.Layers[2].Config["activation"]);
    }

    [Fact]
    public void Example_builds_but_the_engine_Dense_needs_a_flat_input()
    {
        // Keras would apply this Dense to the last axis ((None, 13, 13, 10)); the engine's Dense
        // takes flat input only, so the example as written is a build error naming the fix.
        var e = Assert.Throws<ModelBuildException>(() => ModelSpec.Parse(Example).Build());
        Assert.Contains("dense (Dense)", e.Message);
        Assert.Contains("Flatten", e.Message);

        var model = ModelSpec.Parse(Example.Replace("{\"class_name\": \"Dense\"", "{\"class_name\": \"Flatten\"}, {\"class_name\": \"Dense\"")).Build();
        // conv2d (None, 26, 26, 32) 3·3·1·32 + 32 = 320; max_pooling2d (None, 13, 13, 32);
        // flatten (None, 5408); dense (None, 10) 5408·10 + 10 = 54,090; total 54,410.
        Assert.Equal(["conv2d", "max_pooling2d", "flatten", "dense"], model.Layers.Select(l => l.Name));
        Assert.Equal([TensorShape.Image(26, 26, 32), TensorShape.Image(13, 13, 32), TensorShape.Vector(5408), TensorShape.Vector(10)],
            model.Layers.Select(l => l.OutputShape));
        Assert.Equal(54_410, model.TotalParameterCount);
        var conv = Assert.IsType<Conv2D>(model.Layers[0]);
        Assert.Equal((32, 3, 3, 1, 1, PaddingMode.Valid, true, Activation.Relu),
            (conv.Filters, conv.KernelHeight, conv.KernelWidth, conv.StrideHeight, conv.StrideWidth, conv.Padding, conv.UseBias, conv.Activation));
    }

    [Fact]
    public void Every_layer_class_and_option_round_trips_through_json_and_through_a_built_model()
    {
        string json = """
            {"name": "everything", "input_shape": [32, 32, 3], "layers": [
              {"class_name": "Conv2D", "name": "stem", "filters": 8, "kernel_size": [3, 5], "strides": [2, 1], "padding": [1, 2], "use_bias": false, "activation": "relu6"},
              {"class_name": "BatchNormalization", "momentum": 0.9, "epsilon": 1e-5, "trainable": false},
              {"class_name": "ReLU", "max_value": 6},
              {"class_name": "DepthwiseConv2D", "kernel_size": 3, "strides": 2, "padding": "same", "depth_multiplier": 1},
              {"class_name": "Conv2D", "filters": 4, "kernel_size": 1, "padding": 1},
              {"class_name": "AveragePooling2D", "pool_size": 2, "strides": 1, "padding": "same"},
              {"class_name": "MaxPooling2D", "pool_size": [3, 3], "strides": null, "padding": "valid"},
              {"class_name": "ReLU"},
              {"class_name": "GlobalAveragePooling2D"},
              {"class_name": "Dropout", "rate": 0.1},
              {"class_name": "Dense", "units": 7, "activation": null, "use_bias": true},
              {"class_name": "Softmax"}
            ]}
            """;
        var spec = ModelSpec.Parse(json);

        foreach (bool indented in new[] { true, false })
        {
            var again = ModelSpec.Parse(spec.ToJson(indented));
            Assert.Equal(spec, again);
            Assert.Equal(spec.ToJson(indented), again.ToJson(indented));
            Assert.Equal(spec.Fingerprint, again.Fingerprint);
        }
        var model = spec.Build();
        // FromModel cannot know the spec's top-level name: Sequential has none.
        Assert.Equal(spec.WithName(null), ModelSpec.FromModel(model));
        Assert.False(model.Layers[1].Trainable);
        Assert.Equal("stem", model.Layers[0].Name);
        Assert.Equal(TensorShape.Vector(7), model.OutputShape);
    }

    [Fact]
    public void Canonical_json_fills_defaults_and_keeps_name_and_trainable_only_when_set()
    {
        var spec = ModelSpec.Parse(Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense", "units": 10, "name": "head", "trainable": false}"""));

        Assert.Equal(
            """{"input_shape":[28,28,1],"layers":[{"class_name":"Flatten"},{"class_name":"Dense","name":"head","trainable":false,"units":10,"activation":"linear","use_bias":true}]}""",
            spec.ToJson(indented: false));
        Assert.Equal("""
            {
              "input_shape": [28, 28, 1],
              "layers": [
                {"class_name": "Flatten"},
                {"class_name": "Dense", "name": "head", "trainable": false, "units": 10, "activation": "linear", "use_bias": true}
              ]
            }
            """.ReplaceLineEndings("\n"), spec.ToJson());
    }

    [Fact]
    public void A_name_equal_to_the_generated_one_is_not_part_of_the_canonical_form()
    {
        var named = ModelSpec.Parse(Spec("""{"class_name": "Flatten", "name": "flatten"}""", """{"class_name": "Dense", "units": 10, "name": "dense"}"""));
        var unnamed = ModelSpec.Parse(Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense", "units": 10}"""));

        Assert.Equal(unnamed, named);
        Assert.All(named.Layers, l => Assert.Null(l.Name));
        Assert.Equal(unnamed, ModelSpec.FromModel(unnamed.Build()));
    }

    [Fact]
    public void Keras_config_nesting_is_accepted()
    {
        var nested = ModelSpec.Parse(Spec("""{"class_name": "Flatten", "config": {"name": "f"}}""", """{"class_name": "Dense", "config": {"units": 10, "activation": "relu"}}"""));
        var flat = ModelSpec.Parse(Spec("""{"class_name": "Flatten", "name": "f"}""", """{"class_name": "Dense", "units": 10, "activation": "relu"}"""));

        Assert.Equal(flat, nested);
    }

    [Fact]
    public void Fingerprint_is_sha256_of_the_compact_json_and_the_architecture_fingerprint_ignores_trainable()
    {
        var spec = BuiltInModels.Get("seed-simple");
        string expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(spec.ToJson(false))));
        Assert.Equal(expected, spec.Fingerprint);

        var model = spec.Build();
        model.FreezeUpTo(1);
        var frozen = ModelSpec.FromModel(model);
        Assert.NotEqual(spec.WithName(null), frozen);
        Assert.NotEqual(spec.Fingerprint, frozen.Fingerprint);
        Assert.Equal(spec.ArchitectureFingerprint, frozen.ArchitectureFingerprint);

        var wider = spec.WithClasses(11);
        Assert.NotEqual(spec.ArchitectureFingerprint, wider.ArchitectureFingerprint);
    }

    [Fact]
    public void Build_sets_trainable_flags_from_the_spec()
    {
        var model = ModelSpec.Parse(Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense", "units": 3, "trainable": false}""", """{"class_name": "Dense", "units": 2}""")).Build();

        Assert.False(model.Layers[1].Trainable);
        Assert.True(model.Layers[2].Trainable);
        // dense: 784·3 + 3 = 2,355 frozen; dense_1: 3·2 + 2 = 8 trainable.
        Assert.Equal(8, model.TrainableParameterCount);
        Assert.Equal(2_355, model.NonTrainableParameterCount);
    }

    public static TheoryData<string, string> Errors => new()
    {
        // structure
        { "[1, 2]", "the model spec must be a JSON object" },
        { """{"class_name": "Sequential", "config": {"layers": []}}""", "this looks like Keras's model.to_json() output" },
        { """{"input_shape": [28, 28, 1], "layer": []}""", "unknown top-level key 'layer'; did you mean 'layers'?" },
        { """{"layers": [{"class_name": "Flatten"}]}""", "missing required top-level key 'input_shape'" },
        { """{"input_shape": [28, 28, 1]}""", "missing required top-level key 'layers'" },
        { """{"input_shape": [28, 28, 1], "layers": {}}""", "'layers' must be a list" },
        { """{"input_shape": [28, 28, 1], "layers": []}""", "'layers' is empty" },
        { """{"input_shape": [28, 28, 1], "input_shape": [28, 28, 1], "layers": []}""", "key 'input_shape' appears more than once" },
        { """{"name": 3, "input_shape": [28, 28, 1], "layers": [{"class_name": "Flatten"}]}""", "'name' must be a non-empty string, got 3" },
        // input_shape
        { """{"input_shape": [], "layers": [{"class_name": "Flatten"}]}""", "'input_shape' must be a list of 1 to 3 positive integers" },
        { """{"input_shape": [28, 28, 1, 1], "layers": [{"class_name": "Flatten"}]}""", "'input_shape' must be a list of 1 to 3 positive integers, e.g. [28, 28, 1], got [28, 28, 1, 1]" },
        { """{"input_shape": [28, 0, 1], "layers": [{"class_name": "Flatten"}]}""", "'input_shape' must be a list of 1 to 3 positive integers, e.g. [28, 28, 1], got [28, 0, 1]" },
        { """{"input_shape": [28.5], "layers": [{"class_name": "Flatten"}]}""", "'input_shape' must be" },
        { """{"input_shape": "28", "layers": [{"class_name": "Flatten"}]}""", "'input_shape' must be a list of 1 to 3 positive integers, e.g. [28, 28, 1], got \"28\"" },
        // class names and keys
        { Spec("3"), "layers[0]: a layer must be a JSON object, got 3" },
        { Spec("""{"units": 10}"""), "layers[0]: missing key 'class_name'" },
        { Spec("""{"class_name": "Conv2d", "filters": 3, "kernel_size": 3}"""), "layers[0]: unknown class_name 'Conv2d'; did you mean 'Conv2D'?" },
        { Spec("""{"class_name": "LSTM"}"""), "layers[0]: unknown class_name 'LSTM' (supported: Conv2D, " },
        { Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense", "units": 10}""", """{"class_name": "Dense", "unit": 10}"""),
            "layers[2] (Dense): unknown key 'unit'; did you mean 'units'?" },
        { Spec("""{"class_name": "Conv2D", "filters": 3, "kernel_size": 3, "stride": 2}"""), "layers[0] (Conv2D): unknown key 'stride'; did you mean 'strides'?" },
        { Spec("""{"class_name": "Conv2D", "filters": 3, "kernel_size": 3, "dilation_rate": 2}"""), "layers[0] (Conv2D): unknown key 'dilation_rate' (Conv2D accepts filters, kernel_size" },
        { Spec("""{"class_name": "Dense", "units": 10, "units": 11}"""), "layers[0]: key 'units' appears more than once" },
        { Spec("""{"class_name": "Dense", "config": {"units": 10}, "name": "x"}"""), "layers[0] (Dense): key 'name' must go inside 'config'" },
        // wrong JSON types
        { Spec("""{"class_name": 5}"""), "layers[0]: 'class_name' must be a string, got 5" },
        { Spec("""{"class_name": "Conv2D", "filters": "32", "kernel_size": 3}"""), "layers[0] (Conv2D): 'filters' must be a positive integer, got \"32\"" },
        { Spec("""{"class_name": "Conv2D", "filters": 3.5, "kernel_size": 3}"""), "layers[0] (Conv2D): 'filters' must be a positive integer, got 3.5" },
        { Spec("""{"class_name": "Conv2D", "filters": 3, "kernel_size": [3, 3, 3]}"""), "layers[0] (Conv2D): 'kernel_size' must be a positive integer or a list [height, width] of two, got [3, 3, 3]" },
        { Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense", "units": 10, "use_bias": "yes"}"""), "layers[1] (Dense): 'use_bias' must be true or false, got \"yes\"" },
        { Spec("""{"class_name": "Flatten", "trainable": 1}"""), "layers[0] (Flatten): 'trainable' must be true or false, got 1" },
        { Spec("""{"class_name": "Flatten", "name": 7}"""), "layers[0] (Flatten): 'name' must be a string, got 7" },
        { Spec("""{"class_name": "Flatten", "name": ""}"""), "layers[0] (Flatten): 'name' must be 1 to 256 printable characters" },
        { Spec("""{"class_name": "Dropout", "rate": "0.5"}"""), "layers[0] (Dropout): 'rate' must be a number in [0, 1), got \"0.5\"" },
        { Spec("""{"class_name": "MaxPooling2D", "padding": 1}"""), "layers[0] (MaxPooling2D): 'padding' must be 'valid' or 'same', got 1" },
        { Spec("""{"class_name": "Dense", "units": 10, "config": 3}"""), "layers[0] (Dense): 'config' must be a JSON object, got 3" },
        // out of range
        { Spec("""{"class_name": "Conv2D", "filters": 0, "kernel_size": 3}"""), "layers[0] (Conv2D): 'filters' must be a positive integer, got 0" },
        { Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense", "units": -1}"""), "layers[1] (Dense): 'units' must be a positive integer, got -1" },
        { Spec("""{"class_name": "Conv2D", "filters": 3, "kernel_size": 0}"""), "layers[0] (Conv2D): 'kernel_size' must be a positive integer or a list [height, width] of two, got 0" },
        { Spec("""{"class_name": "Conv2D", "filters": 3, "kernel_size": 3, "strides": [1, 0]}"""), "layers[0] (Conv2D): 'strides' must be a positive integer or a list [height, width] of two, got [1, 0]" },
        { Spec("""{"class_name": "Conv2D", "filters": 3, "kernel_size": 3, "padding": -1}"""), "layers[0] (Conv2D): 'padding' must not be negative, got -1" },
        { Spec("""{"class_name": "Conv2D", "filters": 3, "kernel_size": 3, "padding": [1, -2]}"""), "layers[0] (Conv2D): 'padding' must not be negative, got [1, -2]" },
        { Spec("""{"class_name": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "SAME"}"""), "layers[0] (Conv2D): 'padding' must be 'valid' or 'same', got 'SAME'; did you mean 'same'?" },
        { Spec("""{"class_name": "Dropout", "rate": 1}"""), "layers[0] (Dropout): 'rate' must be a number in [0, 1), got 1" },
        { Spec("""{"class_name": "Dropout", "rate": -0.1}"""), "layers[0] (Dropout): 'rate' must be a number in [0, 1), got -0.1" },
        { Spec("""{"class_name": "BatchNormalization", "momentum": 1.5}"""), "layers[0] (BatchNormalization): 'momentum' must be a number in [0, 1], got 1.5" },
        { Spec("""{"class_name": "BatchNormalization", "epsilon": 0}"""), "layers[0] (BatchNormalization): 'epsilon' must be a positive number, got 0" },
        { Spec("""{"class_name": "ReLU", "max_value": 0}"""), "layers[0] (ReLU): 'max_value' must be null or a positive number, got 0" },
        { Spec("""{"class_name": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 2}"""), "layers[0] (DepthwiseConv2D): 'depth_multiplier' must be 1" },
        { Spec("""{"class_name": "DepthwiseConv2D", "kernel_size": [3, 1]}"""), "layers[0] (DepthwiseConv2D): 'kernel_size' must be square in this engine, got [3, 1]" },
        { Spec("""{"class_name": "MaxPooling2D", "pool_size": 2, "strides": [1, 2]}"""), "layers[0] (MaxPooling2D): 'strides' must be square in this engine, got [1, 2]" },
        { Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense", "units": 10, "activation": "softmax"}"""), "layers[1] (Dense): activation 'softmax' is not supported here" },
        { Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense", "units": 10, "activation": "Relu"}"""), "layers[1] (Dense): 'activation' must be 'linear' or 'relu' or 'relu6', got 'Relu'; did you mean 'relu'?" },
        // missing required keys
        { Spec("""{"class_name": "Flatten"}""", """{"class_name": "Dense"}"""), "layers[1] (Dense): missing required key 'units'" },
        { Spec("""{"class_name": "Conv2D", "filters": 3}"""), "layers[0] (Conv2D): missing required key 'kernel_size'" },
        { Spec("""{"class_name": "Dropout"}"""), "layers[0] (Dropout): missing required key 'rate'" },
        // names
        { Spec("""{"class_name": "Flatten", "name": "a"}""", """{"class_name": "Dense", "units": 3, "name": "a"}"""), "layers[1] (Dense): name 'a' is already used by layers[0]" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Invalid_specs_throw_a_one_line_ModelSpecException_naming_the_layer_and_key(string json, string expected)
    {
        var e = Fails(json);
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"expected '{expected}' in: {e.Message}");
    }

    [Fact]
    public void Malformed_json_reports_line_and_position()
    {
        var e = Fails("{\n  \"input_shape\": [28, 28, 1],\n  \"layers\": [}\n}");
        Assert.True(e.Message.StartsWith("the model spec is not valid JSON: line 3, position 14:", StringComparison.Ordinal), e.Message);

        Fails("""{"input_shape": [28, 28, 1], "layers": [{"class_name": "Flatten"},]}""");
        Fails("");
    }

    [Fact]
    public void More_than_1000_layers_is_an_error()
    {
        string relu = """{"class_name": "ReLU"}""";
        var ok = ModelSpec.Parse(Spec([.. Enumerable.Repeat(relu, 1000)]));
        Assert.Equal(1000, ok.Layers.Count);

        var e = Fails(Spec([.. Enumerable.Repeat(relu, 1001)]));
        Assert.Equal("'layers' has 1,001 layers, more than the limit of 1,000", e.Message);
    }

    [Fact]
    public void More_than_200_million_parameters_is_an_error_before_anything_is_allocated()
    {
        // 1000·1000·1 = 1,000,000 features; Dense 201: 201,000,201 parameters.
        var spec = ModelSpec.Parse("""{"input_shape": [1000, 1000, 1], "layers": [{"class_name": "Flatten"}, {"class_name": "Dense", "units": 201}]}""");
        var e = Assert.Throws<ModelSpecException>(spec.Build);
        Assert.Equal("the model has 201,000,201 parameters, more than the limit of 200,000,000; the largest layer is layers[1] (Dense) with 201,000,201", e.Message);

        // Far beyond int range: still a clear message, not an overflow.
        var huge = ModelSpec.Parse("""{"input_shape": [40000, 40000, 1], "layers": [{"class_name": "Flatten"}, {"class_name": "Dense", "units": 100000}]}""");
        Assert.Contains("more than the limit of 200,000,000", Assert.Throws<ModelSpecException>(huge.Build).Message);
    }

    [Fact]
    public void Shape_errors_at_build_time_are_the_layers_ModelBuildException()
    {
        var spec = ModelSpec.Parse("""{"input_shape": [4, 4, 1], "layers": [{"class_name": "Conv2D", "filters": 2, "kernel_size": 3}, {"class_name": "Conv2D", "filters": 2, "kernel_size": 3}]}""");
        var e = Assert.Throws<ModelBuildException>(spec.Build);
        Assert.StartsWith("conv2d_1 (Conv2D): kernel 3×3 is larger than the padded input 2×2", e.Message);
    }

    [Fact]
    public void Load_reads_a_file_and_names_the_path_in_errors()
    {
        string path = Path.Combine(_dir, "model.json");
        File.WriteAllText(path, BuiltInModels.Get("keras-mnist-cnn").ToJson());
        Assert.Equal(BuiltInModels.Get("keras-mnist-cnn"), ModelSpec.Load(path));

        string missing = Path.Combine(_dir, "nope.json");
        var e = Assert.Throws<ModelSpecException>(() => ModelSpec.Load(missing));
        Assert.Equal($"model spec file '{missing}' does not exist", e.Message);

        File.WriteAllText(path, Spec("""{"class_name": "Dense", "unit": 3}"""));
        e = Assert.Throws<ModelSpecException>(() => ModelSpec.Load(path));
        Assert.Equal($"{path}: layers[0] (Dense): unknown key 'unit'; did you mean 'units'? (Dense accepts units, activation, use_bias, name, trainable)", e.Message);
    }

    [Fact]
    public void LayerSpec_Create_validates_like_json()
    {
        var conv = LayerSpec.Create("Conv2D", new Dictionary<string, object?> { ["filters"] = 8, ["kernel_size"] = new[] { 3, 3 }, ["padding"] = 1 }, name: "c");
        Assert.Equal("""{"class_name":"Conv2D","name":"c","filters":8,"kernel_size":[3,3],"strides":[1,1],"padding":[1,1],"use_bias":true,"activation":"linear"}""", conv.ToString());
        Assert.Equal(conv, LayerSpec.Create("Conv2D", conv.Config, "c"));

        var e = Assert.Throws<ModelSpecException>(() => LayerSpec.Create("Dense", new Dictionary<string, object?> { ["units"] = 0 }));
        Assert.Equal("Dense: 'units' must be a positive integer, got 0", e.Message);
        e = Assert.Throws<ModelSpecException>(() => LayerSpec.Create("Dense", new Dictionary<string, object?> { ["units"] = 3, ["unitz"] = 3 }, name: "head"));
        Assert.StartsWith("head (Dense): unknown key 'unitz'; did you mean 'units'?", e.Message);
    }

    [Fact]
    public void ModelSpec_constructor_checks_shape_and_layer_count()
    {
        var flatten = LayerSpec.Create("Flatten");
        Assert.Throws<ModelSpecException>(() => new ModelSpec(default, [flatten]));
        Assert.Throws<ModelSpecException>(() => new ModelSpec(new TensorShape(1, 2, 3, 4), [flatten]));
        Assert.Throws<ModelSpecException>(() => new ModelSpec(TensorShape.Vector(3), []));
        var e = Assert.Throws<ModelSpecException>(() => new ModelSpec(new TensorShape(100_000, 100_000, 3), [flatten]));
        Assert.Contains("too large", e.Message);
    }

    [Fact]
    public void WithClasses_replaces_the_last_Dense_units()
    {
        var spec = BuiltInModels.Get("keras-mnist-cnn").WithClasses(5);
        Assert.Equal(128, spec.Layers[5].Config["units"]);
        Assert.Equal(5, spec.Layers[7].Config["units"]);
        Assert.Equal(TensorShape.Vector(5), spec.Build().OutputShape);

        var noDense = ModelSpec.Parse(Spec("""{"class_name": "GlobalAveragePooling2D"}"""));
        Assert.Contains("no Dense layer", Assert.Throws<ModelSpecException>(() => noDense.WithClasses(3)).Message);
    }
}
