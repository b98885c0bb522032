using Distributed.Engine.Models;
using Distributed.Tests.Fuzzing;
using Xunit.Abstractions;

namespace Distributed.Engine.Tests.Models;

/// <summary>
/// Hostile model JSON: the built-in models and hand-written specs (flat and Keras-nested) mutated at
/// the text level, plus random JSON. Parsing, counting the parameters and (for small models)
/// building either succeed or throw ModelSpecException / ModelBuildException; an accepted spec's
/// canonical JSON parses back to an equal spec.
/// </summary>
public sealed class ModelSpecParserFuzzTests(ITestOutputHelper output)
{
    /// <summary>Models up to this size are built too (the allocation bound covers their buffers).</summary>
    private const long BuildLimit = 300_000;

    private static readonly string[] Valid =
    [
        .. BuiltInModels.Names.Select(n => BuiltInModels.Get(n).ToJson()),
        .. BuiltInModels.Names.Select(n => BuiltInModels.Get(n).ToJson(indented: false)),
        """{"name": "m", "input_shape": [8, 8, 2], "layers": [{"class_name": "Conv2D", "config": {"filters": 4, "kernel_size": [3, 2], "padding": [1, 0], "name": "c"}}, {"class_name": "MaxPooling2D", "config": {"pool_size": 2, "strides": null}}, {"class_name": "GlobalAveragePooling2D"}, {"class_name": "Dropout", "rate": 0.25}, {"class_name": "Dense", "units": 3, "trainable": false}, {"class_name": "Softmax"}]}""",
        """{"input_shape": [16], "layers": [{"class_name": "Dense", "units": 8, "activation": "relu6", "use_bias": false}, {"class_name": "ReLU", "max_value": 6.0}, {"class_name": "BatchNormalization", "momentum": 0.9, "epsilon": 0.001}, {"class_name": "Dense", "units": 2}]}""",
        """{"input_shape": [5, 5, 1], "layers": [{"class_name": "DepthwiseConv2D", "kernel_size": 3, "padding": "same", "depth_multiplier": 1}, {"class_name": "AveragePooling2D", "pool_size": [2, 2], "padding": "same"}, {"class_name": "Flatten"}, {"class_name": "Dense", "units": 1}]}""",
    ];

    private static (byte[], string) Generate(Random random)
    {
        int roll = random.Next(100);
        if (roll < 6) return (JsonTextMutator.ToBytes(JsonTextMutator.RandomJson(random, random.Next(1, 40))), "random-json");
        if (roll < 9) return (JsonTextMutator.ToBytes(Valid[random.Next(Valid.Length)]), "valid");
        var (text, kind) = JsonTextMutator.Mutate(random, Valid[random.Next(Valid.Length)]);
        return (JsonTextMutator.ToBytes(text), kind);
    }

    private static void Decode(byte[] input)
    {
        var spec = ModelSpec.Parse(JsonTextMutator.FromBytes(input));
        Assert.Equal(spec, ModelSpec.Parse(spec.ToJson()));
        long parameters = spec.CountParameters();
        Assert.InRange(parameters, 0, ModelSpec.MaxParameters);
        if (parameters <= BuildLimit)
            Assert.Equal(parameters, spec.Build().TotalParameterCount);
    }

    /// <summary>
    /// 160 bytes per input byte, plus the buffers of a model that is built. The text is parsed twice
    /// (the round trip), and canonicalising the names re-creates every named layer through
    /// <c>LayerSpec.Create</c> (a JsonObject, its text and a JsonDocument): about 10 KB per layer
    /// object of ~100 input bytes, in proportion to the input and not to any declared size.
    /// </summary>
    private static long Bound(byte[] input)
    {
        long parameters = 0;
        try
        {
            parameters = ModelSpec.Parse(JsonTextMutator.FromBytes(input)).CountParameters();
        }
        catch (Exception) { } // whatever Parse throws, the decode has already reported it
        return 160L * input.Length + (parameters <= BuildLimit ? 16 * parameters : 0) + (2 << 20);
    }

    [Fact]
    public void Random_and_mutated_model_json_is_rejected_with_ModelSpecException_or_ModelBuildException()
    {
        FuzzHarness.Run(new FuzzTarget
        {
            Name = "ModelSpec.Parse + CountParameters + Build",
            Seed = 31337,
            Cases = 12_000,
            Generate = Generate,
            Decode = Decode,
            Expected = [typeof(ModelSpecException), typeof(ModelBuildException)],
            Warmup = [.. Valid.Select(JsonTextMutator.ToBytes)],
            AllocationBound = Bound,
        }, output);
    }

    [Fact]
    public void An_unpaired_surrogate_in_the_text_is_a_ModelSpecException()
    {
        // Was an ArgumentException: System.Text.Json transcodes the string to UTF-8 before parsing.
        string json = "{\"input_shape\": [28, 28, 1], \"layers\": [{\"class_name\": \"Dense\", \"name\": \"a" + '\udc00' + "b\", \"units\": 3}]}";
        var e = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));
        Assert.Contains("an unpaired UTF-16 surrogate", e.Message);
    }

    [Theory]
    [InlineData("""{"input_shape": [28, 28, 1], "layers": [{"class_name": "Dense", "name": "a\ud800b", "units": 3}]}""", "invalid string at $.layers[0].name")]
    [InlineData("""{"input_shape": [4], "layers": [{"class_name": "Dense", "\udfff": 3}]}""", "invalid string at a key of $.layers[0]")]
    [InlineData("""{"input_shape": [4], "layers": [{"class_name": "\udfffDense", "units": 3}]}""", "invalid string at $.layers[0].class_name")]
    public void An_escape_naming_half_a_surrogate_pair_is_a_ModelSpecException(string json, string expected)
    {
        // Was an InvalidOperationException from JsonElement.GetString, escaping Parse (and Checkpoint.BuildModel).
        var e = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("""{"input_shape": [2000000], "layers": [{"class_name": "Dense", "units": 1}]}""", "'input_shape' dimension 0 is 2,000,000, more than the limit of 1,048,576")]
    [InlineData("""{"input_shape": [4], "layers": [{"class_name": "Dense", "units": 2147483647}]}""", "layers[0] (Dense): 'units' is 2,147,483,647, more than the limit of 1,048,576")]
    [InlineData("""{"input_shape": [8, 8, 1], "layers": [{"class_name": "Conv2D", "filters": 1, "kernel_size": [1, 1073741824]}]}""", "'kernel_size' is 1,073,741,824, more than the limit")]
    [InlineData("""{"input_shape": [8, 8, 1], "layers": [{"class_name": "Conv2D", "filters": 1, "kernel_size": 3, "padding": 1073741824}]}""", "'padding' is 1,073,741,824, more than the limit")]
    public void Sizes_beyond_MaxDimension_are_rejected_naming_the_key_and_the_limit(string json, string expected)
    {
        var e = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Nesting_deeper_than_MaxJsonDepth_is_rejected_as_invalid_JSON()
    {
        string deep = new string('[', ModelSpec.MaxJsonDepth + 1) + new string(']', ModelSpec.MaxJsonDepth + 1);
        var e = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse($$"""{"input_shape": [4], "layers": {{deep}}}"""));
        Assert.Contains($"maximum configured depth of {ModelSpec.MaxJsonDepth}", e.Message);
    }

    [Fact]
    public void Text_longer_than_MaxFileBytes_is_rejected_before_parsing()
    {
        string json = "{\"input_shape\": [4], \"layers\": [" + new string(' ', (int)ModelSpec.MaxFileBytes) + "]}";
        var e = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));
        Assert.Contains("more than the limit of 16,777,216", e.Message);
    }

    [Fact]
    public void CountParameters_checks_the_limit_without_allocating_the_model()
    {
        // 1000 × 200,000 + 200,000 = 200,200,000 parameters: over the limit, refused before any buffer exists.
        var spec = ModelSpec.Parse("""{"input_shape": [1000], "layers": [{"class_name": "Dense", "units": 200000}]}""");
        Assert.Throws<ModelSpecException>(() => spec.CountParameters()); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelSpecException>(() => spec.CountParameters());
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.StartsWith("the model has 200,200,000 parameters, more than the limit of 200,000,000", e.Message);

        var small = BuiltInModels.Get("keras-mnist-cnn");
        Assert.Equal(small.Build().TotalParameterCount, small.CountParameters());
        var misfit = ModelSpec.Parse("""{"input_shape": [2, 2, 1], "layers": [{"class_name": "Conv2D", "filters": 1, "kernel_size": 3}]}""");
        Assert.StartsWith("conv2d (Conv2D): kernel 3×3 is larger", Assert.Throws<ModelBuildException>(() => misfit.CountParameters()).Message);
    }
}
