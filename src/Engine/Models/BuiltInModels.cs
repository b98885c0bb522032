using System.Globalization;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Models;

/// <summary>
/// The model specifications that ship with the engine, by name:
/// <list type="bullet">
/// <item><c>seed-simple</c>: two 3-filter 3×3 ReLU convolutions, Flatten, Dense 10 (17,404 parameters at 28×28×1).</item>
/// <item><c>keras-mnist-cnn</c>: Keras's MNIST CNN example (1,199,882 parameters at 28×28×1).</item>
/// <item><c>mobilenet</c>: MobileNet v1 as <c>tf.keras.applications.MobileNet(include_top=True)</c> builds it,
/// with width multiplier alpha (default 224×224×3, 1,000 classes: 4,253,864 parameters).</item>
/// <item><c>mobilenet-mini</c>: a five-block MobileNet for 28×28×1 inputs.</item>
/// </list>
/// </summary>
public static class BuiltInModels
{
    /// <summary>The built-in model names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["seed-simple", "keras-mnist-cnn", "mobilenet", "mobilenet-mini"];

    private static readonly TensorShape Mnist = TensorShape.Image(28, 28, 1);
    private static readonly TensorShape ImageNet = TensorShape.Image(224, 224, 3);

    // (pointwise filters, depthwise stride) of MobileNet v1's 13 depthwise-separable blocks.
    private static readonly (int Filters, int Stride)[] MobileNetBlocks =
    [
        (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
        (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
    ];

    private static readonly (int Filters, int Stride)[] MiniBlocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1)];

    /// <summary>The specification of a built-in model with the options applied.</summary>
    /// <exception cref="ModelSpecException">Unknown name (the message lists the built-in names) or invalid options.</exception>
    public static ModelSpec Get(string name, BuiltInModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        options ??= BuiltInModelOptions.Default;
        if (!float.IsFinite(options.Alpha) || options.Alpha <= 0f)
            throw new ModelSpecException($"alpha must be a positive number, got {Format(options.Alpha)}");
        bool mobileNet = name is "mobilenet" or "mobilenet-mini";
        if (!mobileNet && options.Alpha != 1f && Names.Contains(name))
            throw new ModelSpecException($"alpha applies only to mobilenet and mobilenet-mini, not to {name} (got {Format(options.Alpha)})");

        var spec = name switch
        {
            "seed-simple" => SeedSimple(),
            "keras-mnist-cnn" => KerasMnistCnn(),
            "mobilenet" => MobileNet(options.InputShape ?? ImageNet, options.Classes ?? 1000, options.Alpha),
            "mobilenet-mini" => MobileNetMini(options.InputShape ?? Mnist, options.Classes ?? 10, options.Alpha),
            _ => throw Unknown(name),
        };
        return ApplyShapeAndClasses(spec, options);
    }

    /// <summary>
    /// A built-in name, or the path of a JSON specification file. For a file, the options'
    /// input shape and classes override the file's <c>input_shape</c> and last Dense layer's units.
    /// </summary>
    /// <exception cref="ModelSpecException">Neither a built-in name nor an existing file (the message lists the built-in names), or an invalid file.</exception>
    public static ModelSpec Resolve(string nameOrPath, BuiltInModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        options ??= BuiltInModelOptions.Default;
        if (Names.Contains(nameOrPath)) return Get(nameOrPath, options);
        bool looksLikePath = nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            || nameOrPath.Contains('/') || nameOrPath.Contains('\\');
        if (!File.Exists(nameOrPath) && !looksLikePath) throw Unknown(nameOrPath);
        if (options.Alpha != 1f)
            throw new ModelSpecException($"alpha applies only to the built-in mobilenet and mobilenet-mini, not to the file '{nameOrPath}' (got {Format(options.Alpha)})");
        return ApplyShapeAndClasses(ModelSpec.Load(nameOrPath), options);
    }

    private static ModelSpec ApplyShapeAndClasses(ModelSpec spec, BuiltInModelOptions options)
    {
        if (options.InputShape is { } shape) spec = spec.WithInputShape(shape);
        if (options.Classes is { } classes) spec = spec.WithClasses(classes);
        return spec;
    }

    private static ModelSpecException Unknown(string name)
    {
        string hint = ModelSpecParser.Suggest(name, Names) is { } s ? $"; did you mean '{s}'?" : "";
        return new ModelSpecException(
            $"unknown model '{name}'{hint} (built-in models: {string.Join(", ", Names)}; or give the path of a .json model spec)");
    }

    // conv2d (None, 26, 26, 3) 30; conv2d_1 (None, 24, 24, 3) 84; flatten (None, 1728); dense (None, 10) 17,290.
    private static ModelSpec SeedSimple() => new(Mnist,
    [
        Layer("Conv2D", null, ("filters", 3), ("kernel_size", 3), ("activation", "relu")),
        Layer("Conv2D", null, ("filters", 3), ("kernel_size", 3), ("activation", "relu")),
        Layer("Flatten", null),
        Layer("Dense", null, ("units", 10)),
    ], "seed-simple");

    // Keras 2's examples/mnist_cnn.py, without the final softmax,
    // which the engine fuses into the loss.
    private static ModelSpec KerasMnistCnn() => new(Mnist,
    [
        Layer("Conv2D", null, ("filters", 32), ("kernel_size", 3), ("activation", "relu")),
        Layer("Conv2D", null, ("filters", 64), ("kernel_size", 3), ("activation", "relu")),
        Layer("MaxPooling2D", null, ("pool_size", 2)),
        Layer("Dropout", null, ("rate", 0.25f)),
        Layer("Flatten", null),
        Layer("Dense", null, ("units", 128), ("activation", "relu")),
        Layer("Dropout", null, ("rate", 0.5f)),
        Layer("Dense", null, ("units", 10)),
    ], "keras-mnist-cnn");

    /// <summary>
    /// tf.keras.applications.MobileNet(include_top=True, weights=None) with Keras's layer names.
    /// Keras pads stride-2 depthwise inputs with ZeroPadding2D(((0, 1), (0, 1))) and uses 'valid';
    /// TensorFlow's 'same' pads the same way. Keras's classifier is a 1×1 Conv2D named conv_preds
    /// plus a Reshape; here it is a Dense with the same weights, and the final softmax is fused into the loss.
    /// </summary>
    private static ModelSpec MobileNet(TensorShape input, int classes, float alpha)
    {
        var layers = new List<LayerSpec>();
        double a = KerasAlpha(alpha);
        Stem(layers, Channels(32, a, "conv1"), stride: 2);
        for (int i = 0; i < MobileNetBlocks.Length; i++)
            SeparableBlock(layers, i + 1, Channels(MobileNetBlocks[i].Filters, a, $"conv_pw_{i + 1}"), MobileNetBlocks[i].Stride);
        layers.Add(Layer("GlobalAveragePooling2D", null));
        layers.Add(Layer("Dropout", "dropout", ("rate", 1e-3f)));
        layers.Add(Layer("Dense", "conv_preds", ("units", PositiveClasses(classes))));
        string rows = input.Rank > 0 ? input[0].ToString(CultureInfo.InvariantCulture) : "?";
        return new ModelSpec(input, layers, $"mobilenet_{a.ToString("0.00", CultureInfo.InvariantCulture)}_{rows}");
    }

    /// <summary>MobileNet's stem and first five blocks at stride 1 for 28×28 inputs: 28 → 14 → 7.</summary>
    private static ModelSpec MobileNetMini(TensorShape input, int classes, float alpha)
    {
        var layers = new List<LayerSpec>();
        double a = KerasAlpha(alpha);
        Stem(layers, Channels(32, a, "conv1"), stride: 1);
        for (int i = 0; i < MiniBlocks.Length; i++)
            SeparableBlock(layers, i + 1, Channels(MiniBlocks[i].Filters, a, $"conv_pw_{i + 1}"), MiniBlocks[i].Stride);
        layers.Add(Layer("GlobalAveragePooling2D", null));
        layers.Add(Layer("Dense", null, ("units", PositiveClasses(classes))));
        return new ModelSpec(input, layers, "mobilenet-mini");
    }

    private static void Stem(List<LayerSpec> layers, int filters, int stride)
    {
        layers.Add(Layer("Conv2D", "conv1", ("filters", filters), ("kernel_size", 3), ("strides", stride), ("padding", "same"), ("use_bias", false)));
        layers.Add(BatchNorm("conv1_bn"));
        layers.Add(Relu6("conv1_relu"));
    }

    private static void SeparableBlock(List<LayerSpec> layers, int id, int filters, int stride)
    {
        layers.Add(Layer("DepthwiseConv2D", $"conv_dw_{id}", ("kernel_size", 3), ("strides", stride), ("padding", "same"), ("use_bias", false)));
        layers.Add(BatchNorm($"conv_dw_{id}_bn"));
        layers.Add(Relu6($"conv_dw_{id}_relu"));
        layers.Add(Layer("Conv2D", $"conv_pw_{id}", ("filters", filters), ("kernel_size", 1), ("strides", 1), ("padding", "same"), ("use_bias", false)));
        layers.Add(BatchNorm($"conv_pw_{id}_bn"));
        layers.Add(Relu6($"conv_pw_{id}_relu"));
    }

    // Keras's BatchNormalization defaults, as MobileNet uses them.
    private static LayerSpec BatchNorm(string name) => Layer("BatchNormalization", name, ("momentum", 0.99f), ("epsilon", 1e-3f));

    private static LayerSpec Relu6(string name) => Layer("ReLU", name, ("max_value", 6f));

    private static LayerSpec Layer(string className, string? name, params (string Key, object? Value)[] config) =>
        LayerSpec.Create(className, config.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal), name);

    /// <summary>Alpha as the double Python would hold for the same literal (0.75f → 0.75).</summary>
    private static double KerasAlpha(float alpha) => double.Parse(Format(alpha), CultureInfo.InvariantCulture);

    /// <summary>Keras's <c>int(filters * alpha)</c>.</summary>
    private static int Channels(int filters, double alpha, string layer)
    {
        double c = Math.Floor(filters * alpha);
        if (c < 1) throw new ModelSpecException($"alpha {alpha.ToString(CultureInfo.InvariantCulture)} leaves {layer} with no channels ({filters} × alpha < 1); use a larger alpha");
        if (c > 1 << 20) throw new ModelSpecException($"alpha {alpha.ToString(CultureInfo.InvariantCulture)} gives {layer} {c:N0} channels; use a smaller alpha");
        return (int)c;
    }

    private static int PositiveClasses(int classes) =>
        classes > 0 ? classes : throw new ModelSpecException($"the number of classes must be positive, got {classes}");

    private static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}
