using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Optimizers;
using Distributed.Engine.Tensors;
using Distributed.Engine.Training;
using Xunit;

namespace Distributed.Engine.Tests.Models;

public sealed class SequentialTests
{
    private static Sequential SeedSimple() => BuiltInModels.Get("seed-simple", new BuiltInModelOptions()).Build();

    [Fact]
    public void FreezeUpTo_makes_those_layers_non_trainable_and_moves_their_params_in_the_summary()
    {
        var model = SeedSimple();
        model.FreezeUpTo("conv2d_1");

        Assert.Equal([false, false, true, true], model.Layers.Select(l => l.Trainable));
        string summary = model.Summary();
        Assert.Contains("Total params: 17,404\n", summary);
        Assert.Contains("Trainable params: 17,290\n", summary);     // dense only
        Assert.Contains("Non-trainable params: 114\n", summary);    // 30 + 84

        model.FreezeUpTo(-1);
        Assert.All(model.Layers, l => Assert.True(l.Trainable));
        Assert.Contains("Non-trainable params: 0\n", model.Summary());
    }

    [Fact]
    public void FreezeUpTo_counts_batch_norm_state_as_non_trainable_either_way()
    {
        var model = BuiltInModels.Get("mobilenet-mini", new BuiltInModelOptions()).Build();
        Assert.Equal(2_944, model.NonTrainableParameterCount); // moving statistics, 2·1,472

        model.FreezeUpTo("conv1_relu");
        // + conv1 288 + conv1_bn gamma/beta 64
        Assert.Equal(2_944 + 288 + 64, model.NonTrainableParameterCount);
        Assert.Equal(139_146, model.TotalParameterCount);
    }

    [Fact]
    public void TrainableSegments_exclude_frozen_layers()
    {
        var model = SeedSimple();
        Assert.Equal([new ParameterSegment(0, 17_404)], model.TrainableSegments());

        model.FreezeUpTo(0);
        Assert.Equal([new ParameterSegment(30, 17_374)], model.TrainableSegments());

        model.FreezeUpTo(1);
        Assert.Equal([new ParameterSegment(114, 17_290)], model.TrainableSegments());

        // A frozen layer in the middle splits the trainable range in two.
        model.FreezeUpTo(-1);
        model.Layers[1].Trainable = false;
        Assert.Equal([new ParameterSegment(0, 30), new ParameterSegment(114, 17_290)], model.TrainableSegments());
    }

    [Fact]
    public void FreezeUpTo_an_unknown_layer_is_an_error()
    {
        var e = Assert.Throws<ArgumentException>(() => SeedSimple().FreezeUpTo("conv2d_9"));
        Assert.Contains("conv2d_9", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SeedSimple().FreezeUpTo(4));
    }

    [Fact]
    public void Explicit_duplicate_names_are_rejected()
    {
        var e = Assert.Throws<ModelBuildException>(() =>
            new Sequential(TensorShape.Vector(8), [new Dense(4, name: "hidden"), new Dense(2, name: "hidden")]));
        Assert.Contains("'hidden'", e.Message);

        // The same through a spec is caught when the spec is made, naming both layers.
        var se = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(
            """{"input_shape": [8], "layers": [{"class_name": "Dense", "units": 4, "name": "hidden"}, {"class_name": "Dense", "units": 2, "name": "hidden"}]}"""));
        Assert.StartsWith("layers[1] (Dense): name 'hidden' is already used by layers[0]", se.Message);
    }

    [Fact]
    public void Layers_are_auto_named_keras_style()
    {
        var model = new Sequential(TensorShape.Image(12, 12, 1),
        [
            new Conv2D(2, 3), new BatchNormalization(), new ReLU6(), new Conv2D(2, 3), new DepthwiseConv2D(3),
            new MaxPooling2D(), new Conv2D(2, 1), new GlobalAveragePooling2D(), new Dropout(0.5f), new Dense(3), new Softmax(),
        ]);

        Assert.Equal(
            ["conv2d", "batch_normalization", "re_lu", "conv2d_1", "depthwise_conv2d", "max_pooling2d", "conv2d_2",
             "global_average_pooling2d", "dropout", "dense", "softmax"],
            model.Layers.Select(l => l.Name));
    }

    [Fact]
    public void Generated_names_skip_names_taken_explicitly()
    {
        var model = new Sequential(TensorShape.Vector(4), [new Dense(3), new Dense(3, name: "dense"), new Dense(2)]);
        Assert.Equal(["dense_1", "dense", "dense_2"], model.Layers.Select(l => l.Name));

        // The spec keeps exactly the names needed to rebuild the same names.
        var spec = ModelSpec.FromModel(model);
        Assert.Equal(["dense_1", "dense", null], spec.Layers.Select(l => l.Name));
        Assert.Equal(["dense_1", "dense", "dense_2"], spec.Build().Layers.Select(l => l.Name));
    }

    // Conv → BN → ReLU (C = 6, scalar tails), then a vector BN with a ReLU capped at 3.
    private static Sequential BatchNormRelu() => new(TensorShape.Image(28, 28, 1),
    [
        new Conv2D(6, 3, stride: 2), new BatchNormalization(), new ReLU(), new Flatten(),
        new Dense(16), new BatchNormalization(), new ReLU(3f), new Dense(10),
    ]);

    [Theory]
    [InlineData("mobilenet-mini", null)]
    [InlineData("mobilenet-mini", "conv_dw_2_relu")]
    [InlineData("bn-relu", null)]
    [InlineData("bn-relu", "re_lu")]
    public void A_relu_fused_into_batch_normalization_trains_and_predicts_with_the_bits_of_separate_layers(string name, string? frozenThrough)
    {
        (float[] Weights, float[] Gradients, float[] State, float[] Output) Run(bool fuse)
        {
            var model = name == "bn-relu" ? BatchNormRelu() : BuiltInModels.Get(name).Build();
            model.FusesLayers = fuse;
            var norms = model.Layers.OfType<BatchNormalization>().ToList();
            Assert.All(norms, bn => Assert.Equal(fuse, bn.FusedActivationCap is not null));
            model.InitializeWeights(4);
            if (frozenThrough is not null) model.FreezeUpTo(frozenThrough);
            model.Threads = 2;
            var trainer = new Trainer(model, new Sgd(new SgdOptions(LearningRate: 0.05f, Momentum: 0.9f)));
            trainer.Fit(TestData.Train.Slice(0, 96), new FitOptions(BatchSize: 32, Epochs: 1, Seed: 4));
            var test = TestData.Test.Slice(0, 40);
            var output = model.Forward(test.Images, test.Count, StepContext.Inference()).ToArray();
            return (model.Weights.ToArray(), model.Gradients.ToArray(), model.State.ToArray(), output);
        }
        var separate = Run(fuse: false);
        var fused = Run(fuse: true);
        Assert.Equal(separate.Gradients, fused.Gradients);
        Assert.Equal(separate.Weights, fused.Weights);
        Assert.Equal(separate.State, fused.State);
        Assert.Equal(separate.Output, fused.Output);
        Assert.Contains(fused.Gradients, g => g != 0f);
    }
}
