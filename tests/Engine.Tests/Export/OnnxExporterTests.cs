using System.Diagnostics;
using Distributed.Engine.Export;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Distributed.Engine.Tests.Export;

public class OnnxExporterTests
{
    // The whole committed test slice (500 images).
    private static int Samples => TestData.Test.Count;

    [Theory]
    [InlineData("keras-mnist-cnn")]
    [InlineData("mobilenet-mini")]
    [InlineData("seed-simple")]
    public void OnnxRuntime_gives_the_engines_logits_on_the_test_slice(string name)
    {
        var model = Model(name);
        string path = Export(model, name);
        var (expected, actual) = Compare(model, path);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i])));
        Assert.True(worst <= 1e-4, $"{name}: largest difference {worst:E2}");
        // Not all zeros or constant: the comparison means something.
        Assert.True(expected.Distinct().Count() > expected.Length / 2, $"{name}: only {expected.Distinct().Count()} distinct logits of {expected.Length}");
    }

    [Fact]
    public void Batch_dimension_is_dynamic()
    {
        var model = Model("seed-simple");
        string path = Export(model, "seed-simple-batch");
        using var session = new InferenceSession(path);
        Assert.Equal(-1, session.InputMetadata["input"].Dimensions[0]);
        foreach (int batch in new[] { 1, 7 })
        {
            var input = new DenseTensor<float>(TestData.Test.Images.AsMemory(0, batch * 784), [batch, 28, 28, 1]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
            Assert.Equal([batch, 10], results.First().AsTensor<float>().Dimensions.ToArray());
        }
    }

    [Theory]
    [InlineData("keras-mnist-cnn")]
    [InlineData("mobilenet-mini")]
    public void Exported_file_passes_the_onnx_full_checker(string name)
    {
        string path = Export(Model(name), name + "-check");
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            ArgumentList = { "-c", "import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print('opset', m.opset_import[0].version)", path },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var python = Process.Start(start)!;
        string output = python.StandardOutput.ReadToEnd(), error = python.StandardError.ReadToEnd();
        python.WaitForExit();
        Assert.True(python.ExitCode == 0, $"onnx.checker failed (needs Debian's python3-onnx): {error}");
        Assert.Contains("opset 13", output);
    }

    [Fact]
    public void Relu6_average_pooling_batch_norm_and_softmax_export_too()
    {
        var spec = ModelSpec.Parse("""
            {"input_shape": [14, 14, 2], "layers": [
              {"class_name": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu6"},
              {"class_name": "BatchNormalization", "momentum": 0.9, "epsilon": 0.001},
              {"class_name": "ReLU", "max_value": 6.0},
              {"class_name": "AveragePooling2D", "pool_size": 2, "strides": 2, "padding": "same"},
              {"class_name": "DepthwiseConv2D", "kernel_size": 3, "padding": "same", "use_bias": true},
              {"class_name": "MaxPooling2D", "pool_size": 2, "padding": "same"},
              {"class_name": "Flatten"},
              {"class_name": "Dense", "units": 5},
              {"class_name": "Softmax"}]}
            """);
        var model = spec.Build();
        model.InitializeWeights(3);
        RandomState(model, 4);
        string path = Export(model, "mixed");
        var random = new Random(5);
        // 14 → 7 after the stride-2 convolution, so the 'same' average pooling pads (7 → 4) and must not count the padding.
        var x = Enumerable.Range(0, 3 * 14 * 14 * 2).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var expected = model.Forward(x, 3, Inference()).ToArray();
        using var session = new InferenceSession(path);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, [3, 14, 14, 2]))]);
        Assert.Equal("probabilities", results.First().Name);
        var actual = results.First().AsTensor<float>().ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5, $"output {i}: {expected[i]} against {actual[i]}");
    }

    // Trained for one epoch on the committed slice: random weights leave many units dead, so that
    // many samples share their logits and the comparison would say less.
    // Built and trained once per model for the whole class (xUnit runs a class's tests one at a time).
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Sequential>> Trained = new();

    [Fact]
    public void A_model_without_an_onnx_form_is_an_engine_error_that_leaves_no_file()
    {
        var model = ModelSpec.Parse("""
            {"input_shape": [6, 6, 1], "layers": [{"class_name": "Conv2D", "filters": 2, "kernel_size": 3}]}
            """).Build();
        model.InitializeWeights(1);
        string dir = Directory.CreateTempSubdirectory("onnx-export-").FullName;
        try
        {
            var e = Assert.Throws<EngineException>(() => OnnxExporter.Write(model, Path.Combine(dir, "m.onnx")));
            Assert.Contains("ends in a vector", e.Message);
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static Sequential Model(string name) => Trained.GetOrAdd(name, n => new Lazy<Sequential>(() => Train(n))).Value;

    private static Sequential Train(string name)
    {
        var model = BuiltInModels.Get(name).Build();
        model.InitializeWeights(11);
        new Trainer(model, new Sgd(new SgdOptions(LearningRate: 0.01f, Momentum: 0.9f))).Fit(TestData.Train, new FitOptions(BatchSize: 64, Seed: 1));
        return model;
    }

    // Moving statistics away from their initial 0 and 1, so that the export of each is tested.
    private static void RandomState(Sequential model, int seed)
    {
        var random = new Random(seed);
        foreach (var bn in model.Layers.OfType<BatchNormalization>())
        {
            int c = bn.StateCount / 2;
            for (int i = 0; i < c; i++)
            {
                model.State[bn.StateOffset + i] = (float)(random.NextDouble() - 0.5);
                model.State[bn.StateOffset + c + i] = (float)(0.5 + random.NextDouble());
            }
        }
    }

    private static StepContext Inference() => new() { Training = false };

    private static string Export(Sequential model, string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"onnx-export-{name}-{Environment.ProcessId}.onnx");
        OnnxExporter.Write(model, path);
        Assert.True(new FileInfo(path).Length > model.Weights.Length * 4L);
        return path;
    }

    private static (float[] Expected, float[] Actual) Compare(Sequential model, string path)
    {
        var images = TestData.Test.Images.AsMemory(0, Samples * model.InputShape.Size);
        var expected = model.Forward(images.Span, Samples, Inference()).ToArray();
        using var session = new InferenceSession(path);
        var shape = new[] { Samples }.Concat(model.InputShape.Dims).ToArray();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(images, shape))]);
        Assert.Equal("logits", results.First().Name);
        return (expected, results.First().AsTensor<float>().ToArray());
    }
}
