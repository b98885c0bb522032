using Distributed.Engine.Layers;
using Distributed.Engine.Losses;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;
using Xunit;

namespace Distributed.Engine.Tests;

/// <summary>The course's worked examples, reproduced exactly.</summary>
public sealed class SeedExamplesTests
{
    /// <summary>Valid, bias-free, single-channel convolution of a square image with a square kernel.</summary>
    private static float[,] Convolve(float[,] image, float[,] kernel)
    {
        int n = image.GetLength(0), k = kernel.GetLength(0);
        var layer = new Conv2D(1, k, useBias: false);
        var model = new Sequential(TensorShape.Image(n, image.GetLength(1), 1), [layer]);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                model.Weights[layer.ParameterOffset + i * k + j] = kernel[i, j]; // (KH, KW, 1, 1)
        var x = new float[image.Length];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < image.GetLength(1); j++)
                x[i * image.GetLength(1) + j] = image[i, j];
        var y = model.Forward(x, 1, StepContext.Inference());
        int oh = model.OutputShape.Height, ow = model.OutputShape.Width;
        var r = new float[oh, ow];
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
                r[i, j] = y[i * ow + j];
        return r;
    }

    private static float[] Row(float[,] m, int i) => [.. Enumerable.Range(0, m.GetLength(1)).Select(j => m[i, j])];

    [Fact]
    public void Vertical_edge_detector_on_a_bright_left_half_gives_rows_of_0_30_30_0()
    {
        var image = new float[6, 6];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 3; j++)
                image[i, j] = 10;
        var y = Convolve(image, new float[,] { { 1, 0, -1 }, { 1, 0, -1 }, { 1, 0, -1 } });
        Assert.Equal(4, y.GetLength(0));
        for (int i = 0; i < 4; i++) Assert.Equal([0f, 30f, 30f, 0f], Row(y, i));
    }

    [Fact]
    public void Horizontal_edge_detector_on_a_checkered_image_gives_30_10_minus10_minus30()
    {
        var image = new float[6, 6];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                image[i, j] = i < 3 ? (j < 3 ? 10 : 0) : (j < 3 ? 0 : 10);
        var y = Convolve(image, new float[,] { { 1, 1, 1 }, { 0, 0, 0 }, { -1, -1, -1 } });
        Assert.Equal([0f, 0f, 0f, 0f], Row(y, 0));
        Assert.Equal([30f, 10f, -10f, -30f], Row(y, 1));
        Assert.Equal([30f, 10f, -10f, -30f], Row(y, 2));
        Assert.Equal([0f, 0f, 0f, 0f], Row(y, 3));
    }

    [Fact]
    public void Six_by_six_input_kernel_3_stride_2_padding_1_gives_a_3_by_3_output()
    {
        var model = new Sequential(TensorShape.Image(6, 6, 1), [new Conv2D(1, 3, stride: 2, padding: PaddingMode.Explicit, pad: 1)]);
        Assert.Equal(TensorShape.Image(3, 3, 1), model.OutputShape);
    }

    [Fact]
    public void Softmax_of_minus2_to_2_is_proportional_to_exp_0_14_0_37_1_2_72_7_39()
    {
        float[] z = [-2, -1, 0, 1, 2];
        var p = new float[5];
        SoftmaxCrossEntropy.Softmax(z, p);
        double[] expected = [0.14, 0.37, 1.00, 2.72, 7.39];
        for (int i = 0; i < 5; i++) Assert.Equal(expected[i], Math.Round(p[i] / (double)p[2], 2));
        Assert.Equal(1.0, p.Sum(v => (double)v), 6);
    }

    [Fact]
    public void Cross_entropy_of_0_97_against_the_first_class_is_0_03()
    {
        double ce = SoftmaxCrossEntropy.CrossEntropy([0.97f, 0.02f, 0.01f], 0);
        Assert.Equal(0.03, Math.Round(ce, 2));
    }

    [Fact]
    public void Five_by_five_binomial_blur_sums_to_one_and_keeps_a_constant_image_constant()
    {
        float[] b = [1, 4, 6, 4, 1];
        var kernel = new float[5, 5];
        double sum = 0;
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
            {
                kernel[i, j] = b[i] * b[j] / 256f;
                sum += kernel[i, j];
            }
        Assert.Equal(1.0, sum, 12);
        var image = new float[9, 9];
        for (int i = 0; i < 9; i++)
            for (int j = 0; j < 9; j++)
                image[i, j] = 7;
        var y = Convolve(image, kernel);
        Assert.Equal(5, y.GetLength(0));
        foreach (var v in y) Assert.Equal(7.0, v, 5);
    }

    [Fact]
    public void Depthwise_separable_convolution_needs_about_7_9_times_fewer_mult_adds()
    {
        var input = TensorShape.Image(224, 224, 3);
        var standard = new Sequential(input, [new Conv2D(64, 3)]);
        Assert.Equal(85_162_752L, standard.Layers[0].MultAdds);
        Assert.Equal(85_162_752L, standard.MultAdds);

        var separable = new Sequential(input, [new DepthwiseConv2D(3), new Conv2D(64, 1)]);
        Assert.Equal(TensorShape.Image(222, 222, 3), separable.Layers[0].OutputShape);
        Assert.Equal(1_330_668L, separable.Layers[0].MultAdds);
        Assert.Equal(9_462_528L, separable.Layers[1].MultAdds);
        Assert.Equal(10_793_196L, separable.MultAdds);
        Assert.Equal(7.9, Math.Round(85_162_752.0 / separable.MultAdds, 1));
    }

    [Fact]
    public void Kernel_larger_than_the_padded_input_fails_at_build_time_naming_the_layer_and_shapes()
    {
        var e = Assert.Throws<ModelBuildException>(() =>
            new Sequential(TensorShape.Image(6, 6, 1), [new Conv2D(4, 3), new Conv2D(4, 5)]));
        Assert.Contains("conv2d_1 (Conv2D)", e.Message);
        Assert.Contains("(4, 4, 4)", e.Message);  // the input shape it got
        Assert.Contains("5×5", e.Message);        // the kernel
        Assert.Contains("4×4", e.Message);        // the padded input
    }

    [Fact]
    public void Zero_stride_fails_at_build_time_naming_the_layer()
    {
        var e = Assert.Throws<ModelBuildException>(() =>
            new Sequential(TensorShape.Image(6, 6, 1), [new Conv2D(4, 3), new Conv2D(4, 3, stride: 0)]));
        Assert.Contains("conv2d_1 (Conv2D)", e.Message);
        Assert.Contains("stride", e.Message);
        Assert.Contains("0×0", e.Message);
    }

    [Fact]
    public void Dense_after_an_image_without_flatten_fails_at_build_time_naming_the_layer_and_shape()
    {
        var e = Assert.Throws<ModelBuildException>(() =>
            new Sequential(TensorShape.Image(6, 6, 1), [new Conv2D(4, 3), new Dense(10)]));
        Assert.Contains("dense (Dense)", e.Message);
        Assert.Contains("(4, 4, 4)", e.Message);
        Assert.Contains("Flatten", e.Message);
    }
}
