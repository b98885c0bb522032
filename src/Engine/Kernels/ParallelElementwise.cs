using System.Numerics.Tensors;

namespace Distributed.Engine.Kernels;

/// <summary>
/// The (capped) ReLU and its gradient over large buffers, cut into contiguous ranges on
/// <see cref="ParallelJobs"/>. Element-wise, so the result is the same for any split.
/// </summary>
internal sealed unsafe class ParallelElementwise : IParallelJob
{
    // Below this many floats one thread is faster than waking another.
    private const int MinParallel = 1 << 15;

    [ThreadStatic] private static ParallelElementwise? t_job;

    private float* _a, _b, _c;
    private int _n, _columns;
    private float _cap;
    private Op _op;

    private enum Op { Relu, ReluGradient, BiasActivate }

    // The cap BiasActivate runs with when there is no activation to apply: the bias add alone.
    private const float NoActivation = float.NaN;

    /// <summary>y = min(max(x, 0), cap) for the first <paramref name="n"/> elements (in place when x and y are the same).</summary>
    public static void Relu(ReadOnlySpan<float> x, Span<float> y, int n, float cap, int threads)
    {
        fixed (float* px = x.Slice(0, n), py = y.Slice(0, n)) Run(px, py, null, n, 1, cap, Op.Relu, threads);
    }

    /// <summary>
    /// Adds <paramref name="bias"/> (length C, or empty for none) to every row of <paramref name="y"/>
    /// (rows × C) and applies <paramref name="activation"/>, in place: the same operations, element by element,
    /// as <see cref="Simd.AddBiasRows"/> and then <see cref="Activate"/>, in one pass over memory.
    /// </summary>
    public static void AddBiasAndActivate(Span<float> y, ReadOnlySpan<float> bias, int columns, Layers.Activation activation, int threads)
    {
        if (bias.IsEmpty)
        {
            Activate(y, activation, threads);
            return;
        }
        if (bias.Length != columns || y.Length % columns != 0) throw new ArgumentException("the bias needs one value per column of whole rows");
        fixed (float* py = y, pb = bias)
            Run(py, py, pb, y.Length, columns, activation == Layers.Activation.None ? NoActivation : Simd.CapOf(activation), Op.BiasActivate, threads);
    }

    /// <summary>Applies a fused activation (ReLU, or ReLU capped at 6) in place; identity does nothing.</summary>
    public static void Activate(Span<float> y, Layers.Activation activation, int threads)
    {
        if (activation != Layers.Activation.None) Relu(y, y, y.Length, Simd.CapOf(activation), threads);
    }

    /// <summary>
    /// The gradient with respect to a fused activation's input, for the first <paramref name="n"/>
    /// elements: <paramref name="dy"/> itself for <see cref="Layers.Activation.None"/>, else dy masked
    /// where the activation output <paramref name="y"/> is flat, written into <paramref name="scratch"/>.
    /// </summary>
    public static ReadOnlySpan<float> FusedActivationGradient(Layers.Activation activation, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, float[] scratch, int n, int threads)
    {
        if (activation == Layers.Activation.None) return dy.Slice(0, n);
        ReluGradient(y, dy, scratch, n, Simd.CapOf(activation), threads);
        return scratch.AsSpan(0, n);
    }

    /// <summary>dx = dy where 0 &lt; y &lt; cap, else 0, for the first <paramref name="n"/> elements (see <see cref="Simd.ActivationGradient"/>).</summary>
    public static void ReluGradient(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int n, float cap, int threads)
    {
        fixed (float* py = y.Slice(0, n), pdy = dy.Slice(0, n), pdx = dx.Slice(0, n)) Run(py, pdy, pdx, n, 1, cap, Op.ReluGradient, threads);
    }

    private static void Run(float* a, float* b, float* c, int n, int columns, float cap, Op op, int threads)
    {
        var job = t_job ??= new ParallelElementwise();
        job._a = a; job._b = b; job._c = c; job._n = n; job._columns = columns; job._cap = cap; job._op = op;
        ParallelJobs.Run(job, n < MinParallel ? 1 : Math.Min(threads, n / MinParallel));
    }

    /// <inheritdoc/>
    public void RunPart(int part, int parts)
    {
        if (_op == Op.BiasActivate)
        {
            BiasActivateRows(part, parts);
            return;
        }
        // Ranges in whole 16-float vectors so no part starts mid-vector.
        int vectors = (_n + 15) / 16;
        int i0 = Math.Min(ParallelJobs.Start(vectors, part, parts) * 16, _n), i1 = Math.Min(ParallelJobs.Start(vectors, part + 1, parts) * 16, _n);
        int length = i1 - i0;
        if (length <= 0) return;
        if (_op == Op.ReluGradient)
        {
            Simd.ActivationGradient(new ReadOnlySpan<float>(_a + i0, length), new ReadOnlySpan<float>(_b + i0, length), new Span<float>(_c + i0, length), _cap);
            return;
        }
        Clamp(new ReadOnlySpan<float>(_a + i0, length), new Span<float>(_b + i0, length), _cap);
    }

    // y = min(max(x, 0), cap); an infinite cap skips the second pass.
    private static void Clamp(ReadOnlySpan<float> x, Span<float> y, float cap)
    {
        TensorPrimitives.Max(x, 0f, y);
        if (!float.IsPositiveInfinity(cap)) TensorPrimitives.Min(y, cap, y);
    }

    // Whole rows per part, in blocks of about 4096 floats so the activation reads what the bias add just wrote from L1.
    private void BiasActivateRows(int part, int parts)
    {
        int c = _columns, rows = _n / c;
        int r0 = ParallelJobs.Start(rows, part, parts), r1 = ParallelJobs.Start(rows, part + 1, parts);
        int block = Math.Max(1, 4096 / c);
        var bias = new ReadOnlySpan<float>(_c, c);
        for (int r = r0; r < r1; r += block)
        {
            int n = Math.Min(block, r1 - r);
            var y = new Span<float>(_b + (long)r * c, n * c);
            Simd.AddBiasRows(y, bias, n);
            if (_cap is not NoActivation) Clamp(y, y, _cap);
        }
    }
}
