using Distributed.Engine.Data;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Export;

/// <summary>
/// Writes a built <see cref="Sequential"/> with its current weights as a standard ONNX model
/// (opset 13, inference mode: dropout is the identity, batch normalisation uses the moving
/// statistics). The graph's input <c>input</c> is <c>float32 (batch, H, W, C)</c>, the engine's
/// NHWC layout with a symbolic batch dimension; the output <c>logits</c> is <c>float32 (batch, classes)</c>
/// (<c>probabilities</c> if the model ends with Softmax). Inside, the graph works in ONNX's NCHW:
/// one Transpose after the input, and one before a Flatten so that the flattened order is the
/// engine's (H, W, C). A non-identity <see cref="InputScaling"/> (the training run's standardisation) is
/// part of the graph, so the model takes pixels in [0, 1] as the dataset reader gives them.
/// </summary>
public static class OnnxExporter
{
    /// <summary>Writes <paramref name="model"/> to <paramref name="destination"/>.</summary>
    /// <exception cref="EngineException">A layer has no ONNX form here (the message names it).</exception>
    /// <param name="model">A built model; its current weights and moving statistics are written.</param>
    /// <param name="destination">Where the ONNX protobuf goes.</param>
    /// <param name="scaling">The input scaling the model was trained with; none by default.</param>
    /// <param name="description">The model's doc string.</param>
    public static void Write(Sequential model, Stream destination, InputScaling? scaling = null, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(destination);
        var graph = Build(model, scaling ?? InputScaling.Identity);
        string version = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0";
        graph.WriteModel(destination, version, description ?? $"{model.Layers.Count} layers, {model.TotalParameterCount} parameters");
    }

    /// <summary>Writes <paramref name="model"/> to a file (replaced atomically); see the stream overload.</summary>
    public static void Write(Sequential model, string path, InputScaling? scaling = null, string? description = null)
    {
        // The whole model is built in memory first: a layer without an ONNX form leaves no file behind.
        using var encoded = new MemoryStream();
        Write(model, encoded, scaling, description);
        string temporary = $"{path}.{Environment.ProcessId}-{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = File.Create(temporary)) encoded.WriteTo(file);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    private static OnnxGraph Build(Sequential model, InputScaling scaling)
    {
        var graph = new OnnxGraph("distributed_" + Sanitize(model.Layers.Count > 0 ? model.Layers[0].Name : "model"));
        var input = model.InputShape;
        graph.Input("input", [null, .. input.Dims.Select(d => (long?)d)]);
        string value = "input";
        if (!scaling.IsIdentity)
        {
            // The same float operations as Dataset.Standardize: (x − mean) · (1 / std).
            value = graph.Node("Sub", "input_centred", [value, graph.Scalar("input_mean", scaling.Mean)]);
            value = graph.Node("Mul", "input_scaled", [value, graph.Scalar("input_inverse_std", 1f / scaling.Std)]);
        }
        bool nchw = input.IsImage;
        if (nchw) value = graph.Node("Transpose", "input_nchw", [value], OnnxAttribute.Of("perm", 0, 3, 1, 2));
        foreach (var layer in model.Layers) (value, nchw) = Add(graph, model, layer, value, nchw);
        if (nchw) throw new EngineException($"the model's output {model.OutputShape} is an image; ONNX export needs a model that ends in a vector (Flatten, GlobalAveragePooling2D or Dense)");
        string output = graph.Node("Identity", model.EndsWithSoftmax ? "probabilities" : "logits", [value]);
        graph.Output(output, [null, .. model.OutputShape.Dims.Select(d => (long?)d)]);
        return graph;
    }

    private static (string Value, bool Nchw) Add(OnnxGraph g, Sequential model, Layer layer, string x, bool nchw)
    {
        string name = Sanitize(layer.Name);
        ReadOnlySpan<float> weights = model.Weights.AsSpan(layer.ParameterOffset, layer.ParameterCount);
        switch (layer)
        {
            case Conv2D conv:
            {
                int c = conv.InputShape.Channels, kh = conv.KernelHeight, kw = conv.KernelWidth, f = conv.Filters;
                var kernel = g.Initializer(name + "_kernel", ToOihw(weights[..(kh * kw * c * f)], kh, kw, c, f), f, c, kh, kw);
                string[] inputs = conv.UseBias ? [x, kernel, g.Initializer(name + "_bias", weights.Slice(kh * kw * c * f, f), f)] : [x, kernel];
                var (h, w) = Pads(conv.InputShape, conv.Padding, kh, kw, conv.StrideHeight, conv.StrideWidth, conv.PadHeight, conv.PadWidth);
                string y = g.Node("Conv", name, inputs, OnnxAttribute.Of("kernel_shape", kh, kw), OnnxAttribute.Of("strides", conv.StrideHeight, conv.StrideWidth),
                    OnnxAttribute.Of("pads", h.Before, w.Before, h.After, w.After), OnnxAttribute.Of("dilations", 1, 1), OnnxAttribute.Of("group", 1L));
                return (Activate(g, conv.Activation, y, name), true);
            }
            case DepthwiseConv2D depthwise:
            {
                int c = depthwise.InputShape.Channels, k = depthwise.KernelSize;
                // (K, K, C) → (C, 1, K, K): one filter per channel, group = C.
                var kernel = g.Initializer(name + "_kernel", ToOihw(weights[..(k * k * c)], k, k, 1, c), c, 1, k, k);
                string[] inputs = depthwise.UseBias ? [x, kernel, g.Initializer(name + "_bias", weights.Slice(k * k * c, c), c)] : [x, kernel];
                var (h, w) = Pads(depthwise.InputShape, depthwise.Padding, k, k, depthwise.Stride, depthwise.Stride, depthwise.Pad, depthwise.Pad);
                string y = g.Node("Conv", name, inputs, OnnxAttribute.Of("kernel_shape", k, k), OnnxAttribute.Of("strides", depthwise.Stride, depthwise.Stride),
                    OnnxAttribute.Of("pads", h.Before, w.Before, h.After, w.After), OnnxAttribute.Of("dilations", 1, 1), OnnxAttribute.Of("group", (long)c));
                return (Activate(g, depthwise.Activation, y, name), true);
            }
            case Dense dense:
            {
                int units = dense.Units, inputs = dense.InputShape[0];
                var kernel = g.Initializer(name + "_kernel", weights[..(inputs * units)], inputs, units);
                string[] operands = dense.UseBias ? [x, kernel, g.Initializer(name + "_bias", weights.Slice(inputs * units, units), units)] : [x, kernel];
                string y = g.Node("Gemm", name, operands, OnnxAttribute.Of("alpha", 1f), OnnxAttribute.Of("beta", 1f), OnnxAttribute.Of("transA", 0L), OnnxAttribute.Of("transB", 0L));
                return (Activate(g, dense.Activation, y, name), false);
            }
            case MaxPooling2D or AveragePooling2D:
            {
                var pool = (Pooling2D)layer;
                var (h, w) = Pads(pool.InputShape, pool.Padding, pool.PoolSize, pool.PoolSize, pool.Stride, pool.Stride, 0, 0);
                var attributes = new List<OnnxAttribute>
                {
                    OnnxAttribute.Of("kernel_shape", pool.PoolSize, pool.PoolSize), OnnxAttribute.Of("strides", pool.Stride, pool.Stride),
                    OnnxAttribute.Of("pads", h.Before, w.Before, h.After, w.After),
                };
                // Keras averages over the window's pixels inside the image only.
                if (layer is AveragePooling2D) attributes.Add(OnnxAttribute.Of("count_include_pad", 0L));
                return (g.Node(layer is MaxPooling2D ? "MaxPool" : "AveragePool", name, [x], [.. attributes]), true);
            }
            case GlobalAveragePooling2D:
            {
                string pooled = g.Node("GlobalAveragePool", name, [x]);
                return (g.Node("Flatten", name + "_flatten", [pooled], OnnxAttribute.Of("axis", 1L)), false);
            }
            case Flatten:
            {
                // The engine flattens NHWC samples in (H, W, C) order, as Keras does.
                string nhwc = nchw ? g.Node("Transpose", name + "_nhwc", [x], OnnxAttribute.Of("perm", 0, 2, 3, 1)) : x;
                return (g.Node("Flatten", name, [nhwc], OnnxAttribute.Of("axis", 1L)), false);
            }
            case Dropout:
                return (x, nchw);
            case BatchNormalization bn:
            {
                int c = bn.InputShape.Channels;
                ReadOnlySpan<float> state = model.State.AsSpan(layer.StateOffset, layer.StateCount);
                string[] inputs =
                [
                    x, g.Initializer(name + "_gamma", weights[..c], c), g.Initializer(name + "_beta", weights.Slice(c, c), c),
                    g.Initializer(name + "_moving_mean", state[..c], c), g.Initializer(name + "_moving_variance", state.Slice(c, c), c),
                ];
                return (g.Node("BatchNormalization", name, inputs, OnnxAttribute.Of("epsilon", bn.Epsilon), OnnxAttribute.Of("momentum", bn.Momentum)), nchw);
            }
            case ReLU relu:
                return (relu.MaxValue is float max ? Clip(g, x, name, max) : g.Node("Relu", name, [x]), nchw);
            case Softmax:
                if (nchw) throw new EngineException($"layer '{layer.Name}': ONNX export supports Softmax on vectors only, its input is {layer.InputShape}");
                return (g.Node("Softmax", name, [x], OnnxAttribute.Of("axis", -1L)), false);
            default:
                throw new EngineException($"layer '{layer.Name}' ({layer.TypeName}) has no ONNX export");
        }
    }

    private static string Activate(OnnxGraph g, Activation activation, string y, string name) => activation switch
    {
        Activation.None => y,
        Activation.Relu => g.Node("Relu", name + "_relu", [y]),
        Activation.Relu6 => Clip(g, y, name + "_relu6", 6f),
        _ => throw new EngineException($"activation {activation} has no ONNX export"),
    };

    private static string Clip(OnnxGraph g, string x, string name, float max) =>
        g.Node("Clip", name, [x, g.Scalar(name + "_min", 0f), g.Scalar(name + "_max", max)]);

    private static (PaddedExtent Height, PaddedExtent Width) Pads(TensorShape input, PaddingMode mode, int kh, int kw, int sh, int sw, int ph, int pw) =>
        (PaddedExtent.Resolve(mode, input.Height, kh, sh, ph), PaddedExtent.Resolve(mode, input.Width, kw, sw, pw));

    // Keras kernels are (KH, KW, C, F); ONNX Conv weights are (F, C, KH, KW).
    private static float[] ToOihw(ReadOnlySpan<float> hwcf, int kh, int kw, int c, int f)
    {
        var oihw = new float[hwcf.Length];
        for (int y = 0; y < kh; y++)
            for (int x = 0; x < kw; x++)
                for (int i = 0; i < c; i++)
                    for (int o = 0; o < f; o++)
                        oihw[((o * c + i) * kh + y) * kw + x] = hwcf[((y * kw + x) * c + i) * f + o];
        return oihw;
    }

    private static string Sanitize(string name) => string.Concat(name.Select(ch => char.IsLetterOrDigit(ch) || ch == '_' ? ch : '_'));
}
