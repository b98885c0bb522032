using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Training-mode batch normalisation over rows × C (NHWC flattened), a range of rows at a time,
/// vectorised four channels at once in float64: one pass for the batch statistics, one to normalise,
/// two for the gradients. Sums over rows are formed per fixed block of
/// <see cref="BlockRows"/> rows (rows in order inside a block) and the blocks are then added in
/// order, so the result does not depend on how many threads share the blocks. Each element sees
/// exactly the operations of the scalar formulas (no fused multiply-add), on either code path.
/// x̂ = (x − mean) · invStd is never stored: backward recomputes it from x with the same two
/// operations, so it has forward's bits without a second buffer the size of the activations.
/// An activation that follows the layer (ReLU, capped or not) can be fused in: forward then writes
/// the activated output, and backward masks dy where γ·x̂ + β (recomputed) is flat, bit for bit
/// what a separate ReLU layer would do, two memory passes fewer each way.
/// </summary>
internal static unsafe class BatchNormKernels
{
    /// <summary>
    /// Rows per partial-sum block; fixed, so the summation order never depends on the thread count. Small enough
    /// that a 7×7 layer's 6,272 rows (batch 128) make 25 blocks, which two threads share within 4 %.
    /// </summary>
    public const int BlockRows = 256;

    private const int Lanes = 4;

    /// <summary>
    /// sum[ch] = Σ d and sumSq[ch] = Σ d² over rows [r0, r1) with d = x − shift[ch], in float64, rows in order:
    /// the batch's first two moments in one pass. A shift inside the data (the batch's first row) keeps
    /// Σd²/n − (Σd/n)² from cancelling, as a two-pass variance would.
    /// </summary>
    public static void ShiftedSums(float* x, int r0, int r1, int c, float* shift, double* sum, double* sumSq)
    {
        new Span<double>(sum, c).Clear();
        new Span<double>(sumSq, c).Clear();
        bool vector = Vector256.IsHardwareAccelerated;
        for (int r = r0; r < r1; r++)
        {
            float* xr = x + (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - Lanes; ch += Lanes)
                {
                    var d = Widen(xr + ch) - Widen(shift + ch);
                    (Vector256.Load(sum + ch) + d).Store(sum + ch);
                    (Vector256.Load(sumSq + ch) + d * d).Store(sumSq + ch);
                }
            for (; ch < c; ch++)
            {
                double d = xr[ch] - (double)shift[ch];
                sum[ch] += d;
                sumSq[ch] += d * d;
            }
        }
    }

    /// <summary>
    /// sum[ch] = Σ g and sumSq[ch] = Σ g · x̂ (the product in float32) over rows [r0, r1), in float64,
    /// where g is dy, masked by the fused activation when there is one.
    /// </summary>
    public static void GradientSums(float* dy, float* x, int r0, int r1, in BatchNormChannels p, double* sum, double* sumSq)
    {
        int c = p.C;
        float* mean = p.Mean, invStd = p.InvStd, gamma = p.Gamma, beta = p.Beta;
        bool activated = p.Activated;
        float cap = p.Cap;
        new Span<double>(sum, c).Clear();
        new Span<double>(sumSq, c).Clear();
        bool vector = Vector128.IsHardwareAccelerated && Vector256.IsHardwareAccelerated;
        var capV = Vector128.Create(cap);
        for (int r = r0; r < r1; r++)
        {
            long o = (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - Lanes; ch += Lanes)
                {
                    var xh = (Vector128.Load(x + o + ch) - Vector128.Load(mean + ch)) * Vector128.Load(invStd + ch);
                    var g = Masked(Vector128.Load(dy + o + ch), xh, Vector128.Load(gamma + ch), Vector128.Load(beta + ch), activated, capV);
                    (Vector256.Load(sum + ch) + Widen(g)).Store(sum + ch);
                    (Vector256.Load(sumSq + ch) + Widen(g * xh)).Store(sumSq + ch);
                }
            for (; ch < c; ch++)
            {
                float xh = (x[o + ch] - mean[ch]) * invStd[ch];
                float g = Masked(dy[o + ch], xh, gamma[ch], beta[ch], activated, cap);
                sum[ch] += g;
                sumSq[ch] += g * xh;
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

    /// <summary>
    /// y = γ · x̂ + β with x̂ = (x − mean) · invStd over rows [r0, r1), in float32, then the fused
    /// activation min(max(y, 0), cap) when there is one.
    /// </summary>
    public static void Normalize(float* x, int r0, int r1, in BatchNormChannels p, float* y)
    {
        int c = p.C;
        float* mean = p.Mean, invStd = p.InvStd, gamma = p.Gamma, beta = p.Beta;
        bool activated = p.Activated;
        float cap = p.Cap;
        bool vector = Vector256.IsHardwareAccelerated;
        var capV = Vector256.Create(cap);
        for (int r = r0; r < r1; r++)
        {
            long o = (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - 8; ch += 8)
                {
                    var xh = (Vector256.Load(x + o + ch) - Vector256.Load(mean + ch)) * Vector256.Load(invStd + ch);
                    var z = Vector256.Load(gamma + ch) * xh + Vector256.Load(beta + ch);
                    if (activated) z = Vector256.Min(Vector256.Max(z, Vector256<float>.Zero), capV);
                    z.Store(y + o + ch);
                }
            for (; ch < c; ch++)
            {
                float xh = (x[o + ch] - mean[ch]) * invStd[ch];
                float z = gamma[ch] * xh + beta[ch];
                y[o + ch] = activated ? float.Min(float.Max(z, 0f), cap) : z;
            }
        }
    }

    /// <summary>
    /// dx = γ·invStd · (g − <paramref name="meanDy"/> − x̂ · <paramref name="meanDyXhat"/>) over rows [r0, r1),
    /// evaluated in float64, where g is dy masked by the fused activation (when there is one) and the means
    /// are Σg / rows and Σ(g·x̂) / rows over the whole batch. dx may be dy itself.
    /// </summary>
    public static void InputGradient(float* dy, float* x, int r0, int r1, in BatchNormChannels p, double* meanDy, double* meanDyXhat, float* dx)
    {
        int c = p.C;
        float* mean = p.Mean, invStd = p.InvStd, gamma = p.Gamma, beta = p.Beta;
        bool activated = p.Activated;
        float cap = p.Cap;
        bool vector = Vector128.IsHardwareAccelerated && Vector256.IsHardwareAccelerated;
        var capV = Vector128.Create(cap);
        for (int r = r0; r < r1; r++)
        {
            long o = (long)r * c;
            int ch = 0;
            if (vector)
                for (; ch <= c - Lanes; ch += Lanes)
                {
                    var g32 = Vector128.Load(gamma + ch);
                    var i32 = Vector128.Load(invStd + ch);
                    var xh = (Vector128.Load(x + o + ch) - Vector128.Load(mean + ch)) * i32;
                    var gv = Masked(Vector128.Load(dy + o + ch), xh, g32, Vector128.Load(beta + ch), activated, capV);
                    var g = Widen(gv) - Vector256.Load(meanDy + ch) - Widen(xh) * Vector256.Load(meanDyXhat + ch);
                    Narrow(Widen(g32 * i32) * g).Store(dx + o + ch);
                }
            for (; ch < c; ch++)
            {
                float xh = (x[o + ch] - mean[ch]) * invStd[ch];
                double g = Masked(dy[o + ch], xh, gamma[ch], beta[ch], activated, cap) - meanDy[ch] - xh * meanDyXhat[ch];
                dx[o + ch] = (float)(gamma[ch] * invStd[ch] * g);
            }
        }
    }

    // dy where 0 < γ·x̂ + β < cap (as a ReLU layer's backward tests its output), else 0; dy itself without an activation.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Masked(float dy, float xh, float gamma, float beta, bool activated, float cap)
    {
        if (!activated) return dy;
        float z = gamma * xh + beta;
        return z > 0f && z < cap ? dy : 0f;
    }

    // The same, four channels at once.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Masked(Vector128<float> dy, Vector128<float> xh, Vector128<float> gamma, Vector128<float> beta, bool activated, Vector128<float> cap)
    {
        if (!activated) return dy;
        var z = gamma * xh + beta;
        return dy & Vector128.GreaterThan(z, Vector128<float>.Zero) & Vector128.LessThan(z, cap);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Widen(float* p) => Widen(Vector128.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Widen(Vector128<float> v) => Vector256.Create(Vector128.WidenLower(v), Vector128.WidenUpper(v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Narrow(Vector256<double> v) => Vector128.Narrow(v.GetLower(), v.GetUpper());
}
