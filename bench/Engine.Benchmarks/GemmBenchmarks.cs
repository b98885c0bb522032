using BenchmarkDotNet.Attributes;
using Distributed.Engine.Kernels;

namespace Distributed.Engine.Benchmarks;

/// <summary>
/// <see cref="Gemm"/> on a square product and the model's shapes, serial and on two threads.
/// Shapes are "transA transB m n k" (N = as stored, T = transposed). GFLOP/s = 2·m·n·k / time.
/// OpenBLAS (P/Invoke, <see cref="OpenBlas"/>) runs the same products as the yardstick.
/// Run: <c>dotnet run -c Release -- --filter *GemmBenchmarks* --inProcess</c> from bench/Engine.Benchmarks
/// (the out-of-process toolchain looks for a project file named after the assembly, which this one is not).
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];
    private bool _transA, _transB;
    private int _m, _n, _k;

    /// <summary>The product to time.</summary>
    [Params(
        "N N 1024 1024 1024",   // square reference point
        "N N 2048 32 9",        // conv 3×3, 1→32 channels, im2col forward (per 2048 output pixels)
        "N N 1024 64 288",      // conv 3×3, 32→64 channels, forward
        "T N 288 64 1024",      // same conv, weight gradient: patchesᵀ · dY
        "N T 1024 288 64",      // same conv, input gradient: dY · Wᵀ
        "T N 128 9216 128",     // dense 9216-wide layer, batch 128, weight gradient shape
        "N T 128 128 9216")]    // dense layer forward with k = 9216
    public string Shape { get; set; } = "N N 1024 1024 1024";

    [GlobalSetup]
    public void Setup()
    {
        string[] parts = Shape.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        _transA = parts[0] == "T";
        _transB = parts[1] == "T";
        _m = int.Parse(parts[2]);
        _n = int.Parse(parts[3]);
        _k = int.Parse(parts[4]);
        var rng = new Random(42);
        _a = Fill(rng, _m * _k);
        _b = Fill(rng, _k * _n);
        _c = new float[_m * _n];
    }

    [Benchmark(Baseline = true)]
    public void Serial() =>
        Gemm.Multiply(_transA, _transB, _m, _n, _k, _a, _transA ? _m : _k, _b, _transB ? _k : _n, _c, _n, false);

    [Benchmark]
    public void TwoThreads() =>
        Gemm.Multiply(_transA, _transB, _m, _n, _k, _a, _transA ? _m : _k, _b, _transB ? _k : _n, _c, _n, false, 2);

    [Benchmark]
    public void OpenBlasSerial()
    {
        OpenBlas.Threads(1);
        OpenBlas.Multiply(_transA, _transB, _m, _n, _k, _a, _transA ? _m : _k, _b, _transB ? _k : _n, _c, _n);
    }

    [Benchmark]
    public void OpenBlasTwoThreads()
    {
        OpenBlas.Threads(2);
        OpenBlas.Multiply(_transA, _transB, _m, _n, _k, _a, _transA ? _m : _k, _b, _transB ? _k : _n, _c, _n);
    }

    internal static float[] Fill(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}

/// <summary>The naive triple loop against <see cref="Gemm"/>, on shapes small enough for the naive loop.</summary>
public class GemmVersusReferenceBenchmarks
{
    private float[] _a = [], _b = [], _c = [];

    /// <summary>m = n = k.</summary>
    [Params(64, 256)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _a = GemmBenchmarks.Fill(rng, Size * Size);
        _b = GemmBenchmarks.Fill(rng, Size * Size);
        _c = new float[Size * Size];
    }

    [Benchmark(Baseline = true)]
    public void Reference() => GemmReference.Multiply(false, false, Size, Size, Size, _a, Size, _b, Size, _c, Size, false);

    [Benchmark]
    public void Blocked() => Gemm.Multiply(false, false, Size, Size, Size, _a, Size, _b, Size, _c, Size, false);
}
