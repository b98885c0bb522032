using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Element-wise kernels the engine needs. Plain arithmetic goes to
/// <see cref="TensorPrimitives"/>; the masked activation gradient, which it lacks, is written
/// here with Vector512 / Vector256 / scalar paths.
/// </summary>
public static class Simd
{
    // Below this many channels the per-row helpers loop inline instead of calling TensorPrimitives per row.
    private const int FewChannels = 16;

    /// <summary>d = a + b.</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> d) => TensorPrimitives.Add(a, b, d);

    /// <summary>Adds <paramref name="bias"/> (length C) to each of the rows of <paramref name="y"/> (rows × C).</summary>
    public static void AddBiasRows(Span<float> y, ReadOnlySpan<float> bias, int rows)
    {
        int c = bias.Length;
        if (c < FewChannels)
        {
            // A call per row would cost more than its few adds (a 3-filter convolution has ~86 k rows per batch).
            var all = y.Slice(0, rows * c);
            for (int o = 0; o < all.Length; o += c)
                for (int ch = 0; ch < c; ch++) all[o + ch] += bias[ch];
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            var row = y.Slice(r * c, c);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>
    /// Sums the rows of <paramref name="dy"/> (rows × C) into <paramref name="sum"/> (overwritten). With C of
    /// 16 or more, rows in order; with fewer, as 8-float vectors a period of lcm(C, 8) floats at a time, then
    /// each column's lanes and the rows past the last whole period in order. The order depends only on the shape.
    /// </summary>
    public static void SumRows(ReadOnlySpan<float> dy, int rows, Span<float> sum)
    {
        int c = sum.Length;
        sum.Clear();
        if (c == 0) return;
        if (c < FewChannels)
        {
            SumFewColumns(dy.Slice(0, rows * c), sum);
            return;
        }
        SumManyColumns(dy.Slice(0, rows * c), rows, sum);
    }

    // Rows in order, as a call to TensorPrimitives.Add per row would (the same bits), with up to 32 columns'
    // sums held in registers across all rows instead of a call and a load-add-store of the sums per row.
    private static unsafe void SumManyColumns(ReadOnlySpan<float> all, int rows, Span<float> sum)
    {
        const int lanes = 8;
        int c = sum.Length, col = 0;
        fixed (float* p = all, ps = sum)
        {
            for (; col + 4 * lanes <= c; col += 4 * lanes)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* row = p + col;
                for (int r = 0; r < rows; r++, row += c)
                {
                    a0 += Vector256.Load(row);
                    a1 += Vector256.Load(row + lanes);
                    a2 += Vector256.Load(row + 2 * lanes);
                    a3 += Vector256.Load(row + 3 * lanes);
                }
                a0.Store(ps + col);
                a1.Store(ps + col + lanes);
                a2.Store(ps + col + 2 * lanes);
                a3.Store(ps + col + 3 * lanes);
            }
            for (; col + lanes <= c; col += lanes)
            {
                Vector256<float> a0 = default;
                float* row = p + col;
                for (int r = 0; r < rows; r++, row += c) a0 += Vector256.Load(row);
                a0.Store(ps + col);
            }
            for (; col < c; col++)
            {
                float a0 = 0f;
                float* row = p + col;
                for (int r = 0; r < rows; r++, row += c) a0 += *row;
                ps[col] = a0;
            }
        }
    }

    // A scalar sum per column would be one long chain of dependent adds (a 3-filter convolution has ~86 k
    // rows per batch); a period of whole rows that is also whole vectors keeps up to 15 chains going.
    private static unsafe void SumFewColumns(ReadOnlySpan<float> all, Span<float> sum)
    {
        const int lanes = 8;
        // lcm(C, 8) = C · 8 / gcd(C, 8), and gcd(C, 8) is the largest power of two dividing both.
        int c = sum.Length, period = c * lanes >> System.Numerics.BitOperations.TrailingZeroCount(c | lanes);
        int vectors = period / lanes, periods = all.Length / period;
        var acc = stackalloc Vector256<float>[vectors];
        for (int v = 0; v < vectors; v++) acc[v] = Vector256<float>.Zero;
        fixed (float* p = all)
        {
            for (long k = 0; k < periods; k++)
            {
                float* src = p + k * period;
                for (int v = 0; v < vectors; v++) acc[v] += Vector256.Load(src + v * lanes);
            }
            float* partial = (float*)acc;
            for (int i = 0; i < period; i++) sum[i % c] += partial[i];
            for (int i = periods * period; i < all.Length; i++) sum[i % c] += p[i];
        }
    }

    /// <summary>
    /// dx = dy where the activation's output <paramref name="y"/> is on its sloped part
    /// (0 &lt; y, and y &lt; max when capped), else 0 — PyTorch's convention at the kinks.
    /// </summary>
    public static void ActivationGradient(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, float max)
    {
        if (y.Length != dy.Length || dx.Length < y.Length) throw new ArgumentException("length mismatch");
        int n = y.Length, i = 0;
        ref float py = ref MemoryMarshal.GetReference(y);
        ref float pdy = ref MemoryMarshal.GetReference(dy);
        ref float pdx = ref MemoryMarshal.GetReference(dx);
        if (Vector512.IsHardwareAccelerated)
        {
            var lo = Vector512<float>.Zero;
            var hi = Vector512.Create(max);
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref py, (nuint)i);
                var mask = Vector512.GreaterThan(v, lo) & Vector512.LessThan(v, hi);
                (Vector512.LoadUnsafe(ref pdy, (nuint)i) & mask.AsSingle()).StoreUnsafe(ref pdx, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var lo = Vector256<float>.Zero;
            var hi = Vector256.Create(max);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref py, (nuint)i);
                var mask = Vector256.GreaterThan(v, lo) & Vector256.LessThan(v, hi);
                (Vector256.LoadUnsafe(ref pdy, (nuint)i) & mask.AsSingle()).StoreUnsafe(ref pdx, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref py, i);
            Unsafe.Add(ref pdx, i) = v > 0f && v < max ? Unsafe.Add(ref pdy, i) : 0f;
        }
    }

    /// <summary>The cap that <see cref="ActivationGradient"/> uses for an activation.</summary>
    public static float CapOf(Layers.Activation activation) => activation == Layers.Activation.Relu6 ? 6f : float.PositiveInfinity;
}
