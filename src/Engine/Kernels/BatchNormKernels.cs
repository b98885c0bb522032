using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Training-mode batch normalisation over rows × C (NHWC flattened), a range of rows at a time,
/// vectorised four channels at once in float64. Sums over rows are formed per fixed block of
/// <see cref="BlockRows"/> rows (rows in order inside a block) and the blocks are then added in
/// order, so the result does not depend on how many threads share the blocks. Each element sees
/// exactly the operations of the scalar formulas (no fused multiply-add), on either code path.
/// </summary>
internal static unsafe class BatchNormKernels
{
    /// <summary>Rows per partial-sum block; fixed, so the summation order never depends on the thread count.</summary>
    public const int BlockRows = 1024;

    private const int Lanes = 4;

    /// <summary>sum[ch] = Σ x over rows [r0, r1), in float64, rows in order.</summary>
    public static void Sums(float* x, int r0, int r1, int c, double* sum)
    {
        new Span<double>(sum, c).Clear();
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = r0; r < r1; r++)
        {
            float* xr = x + (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - Lanes; ch += Lanes)
                    (Vector256.Load(sum + ch) + Widen(xr + ch)).Store(sum + ch);
            for (; ch < c; ch++) sum[ch] += xr[ch];
        }
    }

    /// <summary>sumSq[ch] = Σ (x − mean)² over rows [r0, r1), in float64, rows in order.</summary>
    public static void CentredSquares(float* x, int r0, int r1, int c, float* mean, double* sumSq)
    {
        new Span<double>(sumSq, c).Clear();
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = r0; r < r1; r++)
        {
            float* xr = x + (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - Lanes; ch += Lanes)
                {
                    var d = Widen(xr + ch) - Widen(mean + ch);
                    (Vector256.Load(sumSq + ch) + d * d).Store(sumSq + ch);
                }
            for (; ch < c; ch++)
            {
                double d = xr[ch] - (double)mean[ch];
                sumSq[ch] += d * d;
            }
        }
    }

    /// <summary>sum[ch] = Σ dy and sumSq[ch] = Σ dy · x̂ (the product in float32) over rows [r0, r1), in float64.</summary>
    public static void GradientSums(float* dy, float* xhat, int r0, int r1, int c, double* sum, double* sumSq)
    {
        new Span<double>(sum, c).Clear();
        new Span<double>(sumSq, c).Clear();
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = r0; r < r1; r++)
        {
            long o = (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - Lanes; ch += Lanes)
                {
                    var g = Vector128.Load(dy + o + ch);
                    (Vector256.Load(sum + ch) + Widen(g)).Store(sum + ch);
                    (Vector256.Load(sumSq + ch) + Widen(g * Vector128.Load(xhat + o + ch))).Store(sumSq + ch);
                }
            for (; ch < c; ch++)
            {
                sum[ch] += dy[o + ch];
                sumSq[ch] += dy[o + ch] * xhat[o + ch];
            }
        }
    }

    /// <summary>total[ch] = Σ over <paramref name="blocks"/> blocks (in order) of partial[b·c + ch].</summary>
    public static void AddBlocks(double* partial, int blocks, int c, double* total)
    {
        for (int ch = 0; ch < c; ch++) total[ch] = 0;
        for (int b = 0; b < blocks; b++)
            for (int ch = 0; ch < c; ch++) total[ch] += partial[(long)b * c + ch];
    }

    /// <summary>x̂ = (x − mean) · invStd and y = γ · x̂ + β over rows [r0, r1), in float32.</summary>
    public static void Normalize(float* x, int r0, int r1, int c, float* mean, float* invStd,
        float* gamma, float* beta, float* xhat, float* y)
    {
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = r0; r < r1; r++)
        {
            long o = (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - 8; ch += 8)
                {
                    var xh = (Vector256.Load(x + o + ch) - Vector256.Load(mean + ch)) * Vector256.Load(invStd + ch);
                    xh.Store(xhat + o + ch);
                    (Vector256.Load(gamma + ch) * xh + Vector256.Load(beta + ch)).Store(y + o + ch);
                }
            for (; ch < c; ch++)
            {
                float xh = (x[o + ch] - mean[ch]) * invStd[ch];
                xhat[o + ch] = xh;
                y[o + ch] = gamma[ch] * xh + beta[ch];
            }
        }
    }

    /// <summary>
    /// dx = γ·invStd · (dy − <paramref name="meanDy"/> − x̂ · <paramref name="meanDyXhat"/>) over rows [r0, r1),
    /// evaluated in float64, where the means are Σdy / rows and Σ(dy·x̂) / rows over the whole batch.
    /// </summary>
    public static void InputGradient(float* dy, float* xhat, int r0, int r1, int c, double* meanDy, double* meanDyXhat,
        float* gamma, float* invStd, float* dx)
    {
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = r0; r < r1; r++)
        {
            long o = (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - Lanes; ch += Lanes)
                {
                    var g = Widen(dy + o + ch) - Vector256.Load(meanDy + ch) - Widen(xhat + o + ch) * Vector256.Load(meanDyXhat + ch);
                    var scale = Widen(Vector128.Load(gamma + ch) * Vector128.Load(invStd + ch));
                    Narrow(scale * g).Store(dx + o + ch);
                }
            for (; ch < c; ch++)
            {
                double g = dy[o + ch] - meanDy[ch] - xhat[o + ch] * meanDyXhat[ch];
                dx[o + ch] = (float)(gamma[ch] * invStd[ch] * g);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Widen(float* p) => Widen(Vector128.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Widen(Vector128<float> v) => Vector256.Create(Vector128.WidenLower(v), Vector128.WidenUpper(v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Narrow(Vector256<double> v) => Vector128.Narrow(v.GetLower(), v.GetUpper());
}
