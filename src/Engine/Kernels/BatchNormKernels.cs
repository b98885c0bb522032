using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Training-mode batch normalisation over rows × C (NHWC flattened), for a range of channels
/// [c0, c1) at a time, vectorised four channels at once in float64. Each element sees exactly the
/// operations of the scalar formulas (no fused multiply-add, sums over rows in row order), so any
/// split of the channels over threads, and either code path, gives bitwise identical results.
/// </summary>
internal static unsafe class BatchNormKernels
{
    private const int Lanes = 4;

    /// <summary>Mean and biased variance of each channel (two passes in float64), and 1/√(var + ε).</summary>
    public static void Statistics(float* x, int rows, int c, int c0, int c1, double* sum, double* sumSq,
        float* mean, float* variance, float* invStd, double epsilon)
    {
        for (int ch = c0; ch < c1; ch++) sum[ch] = sumSq[ch] = 0;
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * c;
            int ch = c0;
            if (vector)
                for (; ch <= c1 - Lanes; ch += Lanes)
                    (Vector256.Load(sum + ch) + Widen(xr + ch)).Store(sum + ch);
            for (; ch < c1; ch++) sum[ch] += xr[ch];
        }
        for (int ch = c0; ch < c1; ch++) mean[ch] = (float)(sum[ch] / rows);
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * c;
            int ch = c0;
            if (vector)
                for (; ch <= c1 - Lanes; ch += Lanes)
                {
                    var d = Widen(xr + ch) - Widen(mean + ch);
                    (Vector256.Load(sumSq + ch) + d * d).Store(sumSq + ch);
                }
            for (; ch < c1; ch++)
            {
                double d = xr[ch] - (double)mean[ch];
                sumSq[ch] += d * d;
            }
        }
        for (int ch = c0; ch < c1; ch++)
        {
            variance[ch] = (float)(sumSq[ch] / rows);
            invStd[ch] = (float)(1.0 / Math.Sqrt(sumSq[ch] / rows + epsilon));
        }
    }

    /// <summary>x̂ = (x − mean) · invStd and y = γ · x̂ + β, in float32.</summary>
    public static void Normalize(float* x, int rows, int c, int c0, int c1, float* mean, float* invStd,
        float* gamma, float* beta, float* xhat, float* y)
    {
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = 0; r < rows; r++)
        {
            long o = (long)r * c;
            int ch = c0;
            if (vector)
                for (; ch <= c1 - 8; ch += 8)
                {
                    var xh = (Vector256.Load(x + o + ch) - Vector256.Load(mean + ch)) * Vector256.Load(invStd + ch);
                    xh.Store(xhat + o + ch);
                    (Vector256.Load(gamma + ch) * xh + Vector256.Load(beta + ch)).Store(y + o + ch);
                }
            for (; ch < c1; ch++)
            {
                float xh = (x[o + ch] - mean[ch]) * invStd[ch];
                xhat[o + ch] = xh;
                y[o + ch] = gamma[ch] * xh + beta[ch];
            }
        }
    }

    /// <summary>Σ dy (→ dβ) and Σ dy · x̂ (→ dγ) per channel, in float64 over rows in order.</summary>
    public static void GradientSums(float* dy, float* xhat, int rows, int c, int c0, int c1, double* sum, double* sumSq)
    {
        for (int ch = c0; ch < c1; ch++) sum[ch] = sumSq[ch] = 0;
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = 0; r < rows; r++)
        {
            long o = (long)r * c;
            int ch = c0;
            if (vector)
                for (; ch <= c1 - Lanes; ch += Lanes)
                {
                    var g = Vector128.Load(dy + o + ch);
                    (Vector256.Load(sum + ch) + Widen(g)).Store(sum + ch);
                    (Vector256.Load(sumSq + ch) + Widen(g * Vector128.Load(xhat + o + ch))).Store(sumSq + ch);
                }
            for (; ch < c1; ch++)
            {
                sum[ch] += dy[o + ch];
                sumSq[ch] += dy[o + ch] * xhat[o + ch];
            }
        }
    }

    /// <summary>dx = γ·invStd · (dy − Σdy / rows − x̂ · Σ(dy·x̂) / rows), evaluated in float64.</summary>
    public static void InputGradient(float* dy, float* xhat, int rows, int c, int c0, int c1, double* sum, double* sumSq,
        float* gamma, float* invStd, float* dx)
    {
        bool vector = Vector256.IsHardwareAccelerated;
        var n = Vector256.Create((double)rows);
        for (int r = 0; r < rows; r++)
        {
            long o = (long)r * c;
            int ch = c0;
            if (vector)
                for (; ch <= c1 - Lanes; ch += Lanes)
                {
                    var g = Widen(dy + o + ch) - Vector256.Load(sum + ch) / n - Widen(xhat + o + ch) * Vector256.Load(sumSq + ch) / n;
                    var scale = Widen(Vector128.Load(gamma + ch) * Vector128.Load(invStd + ch));
                    Narrow(scale * g).Store(dx + o + ch);
                }
            for (; ch < c1; ch++)
            {
                double g = dy[o + ch] - sum[ch] / rows - xhat[o + ch] * sumSq[ch] / rows;
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
