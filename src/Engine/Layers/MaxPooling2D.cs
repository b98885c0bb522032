using Distributed.Engine.Kernels;

namespace Distributed.Engine.Layers;

/// <summary>
/// Max pooling (Keras <c>MaxPooling2D</c>): x <c>(N, H, W, C)</c> → y <c>(N, OH, OW, C)</c>.
/// Forward saves the flat input index of each maximum (the first one in scan order on ties,
/// as PyTorch does); backward routes each output gradient to it.
/// </summary>
public sealed class MaxPooling2D : Pooling2D, ISampleWork
{
    private int[] _argmax = [];
    // The pass in progress (pinned by the caller), for the per-sample work.
    private nint _x, _yOrDy, _dx;
    private bool _backward;

    /// <summary>Creates a max-pooling layer; <paramref name="stride"/> defaults to the pool size.</summary>
    public MaxPooling2D(int poolSize = 2, int? stride = null, PaddingMode padding = PaddingMode.Valid, string? name = null)
        : base(poolSize, stride, padding, name) { }

    /// <inheritdoc/>
    public override string TypeName => "MaxPooling2D";
    /// <inheritdoc/>
    public override string DefaultNameStem => "max_pooling2d";

    internal override void Allocate(int maxBatch) => _argmax = new int[maxBatch * OutputShape.Size];

    internal override unsafe void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        fixed (float* px = x, py = y)
        {
            (_x, _yOrDy, _dx, _backward) = ((nint)px, (nint)py, 0, false);
            SampleParallel.Run(this, batch, Threads);
        }
    }

    internal override unsafe void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (!computeInputGradient) return;
        fixed (float* pdy = dy, pdx = dx)
        {
            (_x, _yOrDy, _dx, _backward) = (0, (nint)pdy, (nint)pdx, true);
            SampleParallel.Run(this, batch, Threads);
        }
    }

    // Samples [first, end) of the pass in progress; a sample's taps and its argmax indices stay
    // inside that sample, so samples never write each other's memory.
    unsafe void ISampleWork.RunSamples(int first, int end)
    {
        int c = Geometry.Channels, inSize = InputShape.Size, outSize = OutputShape.Size;
        if (_backward)
        {
            float* dy = (float*)_yOrDy, dx = (float*)_dx;
            new Span<float>(dx + (long)first * inSize, (end - first) * inSize).Clear();
            for (int o = first * outSize; o < end * outSize; o++) dx[_argmax[o]] += dy[o];
            return;
        }
        var x = new ReadOnlySpan<float>((float*)_x, end * inSize);
        var y = new Span<float>((float*)_yOrDy, end * outSize);
        for (int s = first; s < end; s++)
        {
            int xBase = s * inSize, o = s * outSize;
            for (int oh = 0; oh < Geometry.OutputHeight; oh++)
            {
                for (int ow = 0; ow < Geometry.OutputWidth; ow++, o += c)
                {
                    // Window taps in scan order (kh, kw); the first valid tap seeds the maxima.
                    bool seeded = false;
                    for (int kh = 0; kh < PoolSize; kh++)
                    {
                        int ih = oh * Stride - Geometry.PadTop + kh;
                        if ((uint)ih >= (uint)Geometry.InputHeight) continue;
                        for (int kw = 0; kw < PoolSize; kw++)
                        {
                            int iw = ow * Stride - Geometry.PadLeft + kw;
                            if ((uint)iw >= (uint)Geometry.InputWidth) continue;
                            int tap = xBase + (ih * Geometry.InputWidth + iw) * c;
                            if (!seeded) PoolKernels.Seed(x.Slice(tap, c), tap, y.Slice(o, c), _argmax.AsSpan(o, c));
                            else PoolKernels.Update(x.Slice(tap, c), tap, y.Slice(o, c), _argmax.AsSpan(o, c));
                            seeded = true;
                        }
                    }
                }
            }
        }
    }
}
