using Distributed.Engine.Kernels;

namespace Distributed.Engine.Layers;

/// <summary>
/// Average pooling (Keras <c>AveragePooling2D</c>): x <c>(N, H, W, C)</c> → y <c>(N, OH, OW, C)</c>.
/// With <c>same</c> padding a window averages only the input pixels it covers, as Keras does.
/// Forward keeps nothing; backward spreads each gradient evenly over its window.
/// </summary>
public sealed class AveragePooling2D : Pooling2D
{

    /// <summary>Creates an average-pooling layer; <paramref name="stride"/> defaults to the pool size.</summary>
    public AveragePooling2D(int poolSize = 2, int? stride = null, PaddingMode padding = PaddingMode.Valid, string? name = null)
        : base(poolSize, stride, padding, name) { }

    /// <inheritdoc/>
    public override string TypeName => "AveragePooling2D";
    /// <inheritdoc/>
    public override string DefaultNameStem => "average_pooling2d";

    private (int h0, int h1, int w0, int w1) Window(int oh, int ow)
    {
        int h0 = oh * Stride - Geometry.PadTop, w0 = ow * Stride - Geometry.PadLeft;
        return (Math.Max(h0, 0), Math.Min(h0 + PoolSize, Geometry.InputHeight), Math.Max(w0, 0), Math.Min(w0 + PoolSize, Geometry.InputWidth));
    }

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int c = Geometry.Channels, inSize = InputShape.Size, outSize = OutputShape.Size;
        for (int s = 0; s < batch; s++)
        {
            var xs = x.Slice(s * inSize, inSize);
            for (int oh = 0; oh < Geometry.OutputHeight; oh++)
            {
                for (int ow = 0; ow < Geometry.OutputWidth; ow++)
                {
                    var acc = y.Slice(s * outSize + (oh * Geometry.OutputWidth + ow) * c, c);
                    acc.Clear();
                    var (h0, h1, w0, w1) = Window(oh, ow);
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++)
                            Simd.Add(acc, xs.Slice((ih * Geometry.InputWidth + iw) * c, c), acc);
                    System.Numerics.Tensors.TensorPrimitives.Multiply(acc, 1f / ((h1 - h0) * (w1 - w0)), acc);
                }
            }
        }
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (!computeInputGradient) return;
        int c = Geometry.Channels, inSize = InputShape.Size, outSize = OutputShape.Size;
        dx.Slice(0, batch * inSize).Clear();
        for (int s = 0; s < batch; s++)
        {
            var dxs = dx.Slice(s * inSize, inSize);
            for (int oh = 0; oh < Geometry.OutputHeight; oh++)
            {
                for (int ow = 0; ow < Geometry.OutputWidth; ow++)
                {
                    var go = dy.Slice(s * outSize + (oh * Geometry.OutputWidth + ow) * c, c);
                    var (h0, h1, w0, w1) = Window(oh, ow);
                    float scale = 1f / ((h1 - h0) * (w1 - w0));
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++)
                        {
                            var d = dxs.Slice((ih * Geometry.InputWidth + iw) * c, c);
                            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(go, scale, d, d);
                        }
                }
            }
        }
    }
}
