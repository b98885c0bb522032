using Distributed.Engine.Kernels;

namespace Distributed.Engine.Layers;

/// <summary>
/// Max pooling (Keras <c>MaxPooling2D</c>): x <c>(N, H, W, C)</c> → y <c>(N, OH, OW, C)</c>.
/// Forward saves the flat input index of each maximum (the first one in scan order on ties,
/// as PyTorch does); backward routes each output gradient to it.
/// </summary>
public sealed class MaxPooling2D : Pooling2D
{
    private int[] _argmax = [];

    /// <summary>Creates a max-pooling layer; <paramref name="stride"/> defaults to the pool size.</summary>
    public MaxPooling2D(int poolSize = 2, int? stride = null, PaddingMode padding = PaddingMode.Valid, string? name = null)
        : base(poolSize, stride, padding, name) { }

    /// <inheritdoc/>
    public override string TypeName => "MaxPooling2D";
    /// <inheritdoc/>
    public override string DefaultNameStem => "max_pooling2d";

    internal override void Allocate(int maxBatch) => _argmax = new int[maxBatch * OutputShape.Size];

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int c = Geometry.Channels, inSize = InputShape.Size, outSize = OutputShape.Size;
        for (int s = 0; s < batch; s++)
        {
            int xBase = s * inSize, o = s * outSize;
            for (int oh = 0; oh < Geometry.OutputHeight; oh++)
            {
                for (int ow = 0; ow < Geometry.OutputWidth; ow++, o += c)
                {
                    // Window taps in scan order (kh, kw); the first valid tap seeds the maxima.
                    bool first = true;
                    for (int kh = 0; kh < PoolSize; kh++)
                    {
                        int ih = oh * Stride - Geometry.PadTop + kh;
                        if ((uint)ih >= (uint)Geometry.InputHeight) continue;
                        for (int kw = 0; kw < PoolSize; kw++)
                        {
                            int iw = ow * Stride - Geometry.PadLeft + kw;
                            if ((uint)iw >= (uint)Geometry.InputWidth) continue;
                            int tap = xBase + (ih * Geometry.InputWidth + iw) * c;
                            if (first) PoolKernels.Seed(x.Slice(tap, c), tap, y.Slice(o, c), _argmax.AsSpan(o, c));
                            else PoolKernels.Update(x.Slice(tap, c), tap, y.Slice(o, c), _argmax.AsSpan(o, c));
                            first = false;
                        }
                    }
                }
            }
        }
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (!computeInputGradient) return;
        dx.Slice(0, batch * InputShape.Size).Clear();
        int n = batch * OutputShape.Size;
        for (int o = 0; o < n; o++) dx[_argmax[o]] += dy[o];
    }
}
