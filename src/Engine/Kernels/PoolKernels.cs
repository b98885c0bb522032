using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Max-pooling across the channels of one NHWC pixel: the running maximum and the flat input
/// index it came from. A later tap replaces the maximum only if strictly greater (or NaN), so
/// ties keep the first tap in scan order, as PyTorch does.
/// </summary>
public static class PoolKernels
{
    /// <summary>best = x, index = tapBase + channel.</summary>
    public static void Seed(ReadOnlySpan<float> x, int tapBase, Span<float> best, Span<int> index)
    {
        x.CopyTo(best);
        for (int i = 0; i < index.Length; i++) index[i] = tapBase + i;
    }

    /// <summary>Where x &gt; best (or x is NaN): best = x, index = tapBase + channel.</summary>
    public static void Update(ReadOnlySpan<float> x, int tapBase, Span<float> best, Span<int> index)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float pb = ref MemoryMarshal.GetReference(best);
        ref int pi = ref MemoryMarshal.GetReference(index);
        if (Vector256.IsHardwareAccelerated)
        {
            var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref px, (nuint)i);
                var b = Vector256.LoadUnsafe(ref pb, (nuint)i);
                var take = Vector256.GreaterThan(v, b) | ~Vector256.Equals(v, v);
                Vector256.ConditionalSelect(take, v, b).StoreUnsafe(ref pb, (nuint)i);
                var idx = Vector256.LoadUnsafe(ref pi, (nuint)i);
                Vector256.ConditionalSelect(take.AsInt32(), lane + Vector256.Create(tapBase + i), idx).StoreUnsafe(ref pi, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref px, i);
            if (v > Unsafe.Add(ref pb, i) || float.IsNaN(v))
            {
                Unsafe.Add(ref pb, i) = v;
                Unsafe.Add(ref pi, i) = tapBase + i;
            }
        }
    }
}
