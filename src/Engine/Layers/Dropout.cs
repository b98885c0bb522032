using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Distributed.Engine.Kernels;
using Distributed.Engine.Randomness;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// Inverted dropout (Keras <c>Dropout</c>): in training, each element is kept with probability
/// 1 − rate and scaled by 1 / (1 − rate); in inference it is the identity. The mask of an
/// element is a pure function of (seed, layer name, epoch, global sample index, element): one hash per
/// sample gives a key, and SplitMix64's finaliser of key + element · φ the element's bits, so
/// it does not depend on batch composition, worker or thread. Forward saves the scaled mask.
/// </summary>
public sealed class Dropout : Layer, ISampleWork
{
    private float[] _mask = [];
    private bool _lastTraining;
    // The forward pass in progress, for the per-sample mask work.
    private ulong _stream;
    private StepContext? _context;

    /// <summary>Creates a dropout layer dropping a fraction <paramref name="rate"/> in [0, 1).</summary>
    public Dropout(float rate, string? name = null) : base(name)
    {
        if (!(rate >= 0f && rate < 1f)) throw new ModelBuildException($"{name ?? "dropout"} (Dropout): rate must be in [0, 1), got {rate}");
        Rate = rate;
    }

    /// <summary>Fraction of elements dropped in training.</summary>
    public float Rate { get; }

    /// <inheritdoc/>
    public override string TypeName => "Dropout";
    /// <inheritdoc/>
    public override string DefaultNameStem => "dropout";

    /// <inheritdoc/>
    protected override TensorShape ComputeOutputShape(TensorShape input) => input;

    internal override void Allocate(int maxBatch) => _mask = new float[maxBatch * InputShape.Size];

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context)
    {
        int size = InputShape.Size, n = batch * size;
        _lastTraining = context.Training && Rate > 0f;
        if (!_lastTraining)
        {
            x.Slice(0, n).CopyTo(y);
            return;
        }
        if (context.SampleIndices.Length < batch)
            throw new InvalidOperationException($"{Describe}: training needs the global sample index of each of the {batch} rows");
        _stream = StreamOf(Name);
        _context = context;
        unsafe
        {
            fixed (float* px = x, py = y)
            {
                _from = px; _to = py;
                SampleParallel.Run(this, batch, Threads);
                _from = null; _to = null;
            }
        }
        _context = null;
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient)
    {
        if (!computeInputGradient) return;
        int n = batch * InputShape.Size;
        if (!_lastTraining)
        {
            dy.Slice(0, n).CopyTo(dx);
            return;
        }
        unsafe
        {
            fixed (float* pdy = dy, pdx = dx)
            {
                _from = pdy; _to = pdx;
                SampleParallel.Run(this, batch, Threads);
                _from = null; _to = null;
            }
        }
    }

    // What RunSamples multiplies by each sample's mask: x into y in forward (after making the mask), dy into dx in
    // backward (_context null: the mask is forward's).
    private unsafe float* _from, _to;

    // The masks of samples [first, end): keep iff the element's 24-bit uniform ≥ rate, compared as integers.
    unsafe void ISampleWork.RunSamples(int first, int end)
    {
        int size = InputShape.Size;
        float scale = 1f / (1f - Rate);
        uint threshold = (uint)Math.Ceiling(Rate * 16777216.0);
        var context = _context;
        for (int s = first; s < end; s++)
        {
            var from = new ReadOnlySpan<float>(_from + (long)s * size, size);
            var to = new Span<float>(_to + (long)s * size, size);
            if (context is null)
            {
                TensorPrimitives.Multiply(from, _mask.AsSpan(s * size, size), to);
                continue;
            }
            ulong sample = ((ulong)(uint)context.Epoch << 32) | (uint)context.SampleIndices[s];
            ulong key = CounterRandom.Hash(context.Seed, _stream, sample);
            var m = _mask.AsSpan(s * size, size);
            int i = Vector512.IsHardwareAccelerated ? MaskVectorised(key, threshold, scale, m)
                : Vector256.IsHardwareAccelerated ? MaskVectorised256(key, threshold, scale, m) : 0;
            for (; i < m.Length; i++)
                m[i] = (uint)(CounterRandom.Mix(key + (ulong)i * Golden) >> 40) >= threshold ? scale : 0f;
            TensorPrimitives.Multiply(from, m, to);
        }
    }

    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    // The scalar loop's integer arithmetic, 16 elements at a time (two 8-lane SplitMix64 finalisers);
    // returns how many elements it filled. Integer-exact, so the mask is the scalar one bit for bit.
    private static int MaskVectorised(ulong key, uint threshold, float scale, Span<float> mask)
    {
        var lanes = Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
        var step = Vector512.Create(Golden);
        var keep = Vector512.Create(scale);
        var limit = Vector512.Create(threshold);
        int i = 0;
        for (; i <= mask.Length - 16; i += 16)
        {
            var lo = Mix(Vector512.Create(key) + (lanes + Vector512.Create((ulong)i)) * step);
            var hi = Mix(Vector512.Create(key) + (lanes + Vector512.Create((ulong)i + 8)) * step);
            var bits = Vector512.Narrow(lo >>> 40, hi >>> 40);
            Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(bits, limit).AsSingle(), keep, Vector512<float>.Zero)
                .StoreUnsafe(ref MemoryMarshal.GetReference(mask), (nuint)i);
        }
        return i;
    }

    // The same, 8 elements at a time in two 4-lane halves, where 512-bit vectors are not accelerated.
    private static int MaskVectorised256(ulong key, uint threshold, float scale, Span<float> mask)
    {
        var lanes = Vector256.Create(0UL, 1, 2, 3);
        var step = Vector256.Create(Golden);
        var keep = Vector256.Create(scale);
        var limit = Vector256.Create(threshold);
        int i = 0;
        for (; i <= mask.Length - 8; i += 8)
        {
            var lo = Mix(Vector256.Create(key) + (lanes + Vector256.Create((ulong)i)) * step);
            var hi = Mix(Vector256.Create(key) + (lanes + Vector256.Create((ulong)i + 4)) * step);
            var bits = Vector256.Narrow(lo >>> 40, hi >>> 40);
            Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(bits, limit).AsSingle(), keep, Vector256<float>.Zero)
                .StoreUnsafe(ref MemoryMarshal.GetReference(mask), (nuint)i);
        }
        return i;
    }

    private static Vector256<ulong> Mix(Vector256<ulong> z)
    {
        z = (z ^ (z >>> 30)) * Vector256.Create(0xBF58476D1CE4E5B9UL);
        z = (z ^ (z >>> 27)) * Vector256.Create(0x94D049BB133111EBUL);
        return z ^ (z >>> 31);
    }

    private static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z = (z ^ (z >>> 30)) * Vector512.Create(0xBF58476D1CE4E5B9UL);
        z = (z ^ (z >>> 27)) * Vector512.Create(0x94D049BB133111EBUL);
        return z ^ (z >>> 31);
    }

    // FNV-1a of the layer name: a stable per-layer stream id, so two dropout layers differ.
    private static ulong StreamOf(string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (char ch in name) { h ^= ch; h *= 1099511628211UL; }
        return h;
    }

    internal override IReadOnlyDictionary<string, object?> Config => new Dictionary<string, object?> { ["rate"] = Rate };
}
