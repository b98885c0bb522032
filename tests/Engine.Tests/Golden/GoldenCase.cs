using System.Globalization;
using System.Text;
using System.Text.Json;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;
using Xunit;

namespace Distributed.Engine.Tests.Golden;

/// <summary>A golden tensor: row-major float64 data and its shape (PyTorch layout, images NCHW).</summary>
public sealed record GoldenTensor(int[] Shape, double[] Data)
{
    /// <summary>Number of elements.</summary>
    public int Size => Data.Length;

    /// <summary>The data as float32, as the engine consumes it.</summary>
    public float[] ToFloats() => GoldenCase.ToFloats(Data);

    /// <summary>Shape as text, e.g. <c>[2, 3, 6, 6]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>One named parameter of a golden network case, with its value and its gradient (PyTorch layout).</summary>
public sealed record GoldenParameter(string Name, GoldenTensor Value, GoldenTensor Grad);

/// <summary>
/// One PyTorch reference case from <c>tests/golden/*.json</c> (copied to the test output folder
/// <c>golden/</c>), plus the layout conversions between PyTorch (NCHW, (out, in, kh, kw)) and the
/// engine (NHWC, (kh, kw, in, out)) and a tolerance assertion.
/// </summary>
public sealed class GoldenCase
{
    private readonly JsonElement _root;

    private GoldenCase(string file, JsonElement root)
    {
        File = file;
        _root = root;
    }

    /// <summary>The file the case was read from.</summary>
    public string File { get; }

    /// <summary>The case's name (e.g. <c>conv2d_s2_p1</c>).</summary>
    public string Name => _root.TryGetProperty("name", out var n) ? n.GetString() ?? "" : System.IO.Path.GetFileNameWithoutExtension(File);

    /// <summary>The layer kind (e.g. <c>conv2d</c>, <c>network</c>).</summary>
    public string Layer => _root.GetProperty("layer").GetString() ?? "";

    /// <summary>The raw JSON root.</summary>
    public JsonElement Root => _root;

    /// <summary>The <c>config</c> object.</summary>
    public JsonElement Config => _root.GetProperty("config");

    /// <summary>Path of a golden file in the test output folder.</summary>
    public static string PathOf(string name) =>
        System.IO.Path.Combine(AppContext.BaseDirectory, "golden", name.EndsWith(".json", StringComparison.Ordinal) ? name : name + ".json");

    /// <summary>Loads a golden case by file name, with or without <c>.json</c>.</summary>
    public static GoldenCase Load(string name)
    {
        string path = PathOf(name);
        Assert.True(System.IO.File.Exists(path), $"golden file {path} is missing (the test project copies tests/golden/*.json to golden/)");
        using var doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(path));
        return new GoldenCase(path, doc.RootElement.Clone());
    }

    /// <summary>True when the case has a top-level member <paramref name="key"/>.</summary>
    public bool Has(string key) => _root.TryGetProperty(key, out _);

    /// <summary>The tensor stored under <paramref name="key"/>.</summary>
    public GoldenTensor Tensor(string key)
    {
        Assert.True(_root.TryGetProperty(key, out var t), $"golden case {Name} has no tensor '{key}'");
        return ParseTensor(t, $"{Name}.{key}");
    }

    /// <summary>A scalar number stored under <paramref name="key"/> (e.g. <c>loss</c>).</summary>
    public double Scalar(string key) => _root.GetProperty(key).GetDouble();

    /// <summary>An integer list stored under <paramref name="key"/> (e.g. <c>labels</c>).</summary>
    public int[] Ints(string key) => [.. _root.GetProperty(key).EnumerateArray().Select(e => e.GetInt32())];

    /// <summary>The network parameters, in PyTorch's parameter order.</summary>
    public IReadOnlyList<GoldenParameter> Parameters =>
    [
        .. _root.GetProperty("parameters").EnumerateArray().Select(p =>
        {
            string name = p.GetProperty("name").GetString()!;
            return new GoldenParameter(name, ParseTensor(p.GetProperty("value"), name), ParseTensor(p.GetProperty("grad"), name + ".grad"));
        }),
    ];

    /// <summary>An integer list in the config (e.g. <c>stride</c>, <c>kernel</c>).</summary>
    public int[] ConfigInts(string key) => [.. Config.GetProperty(key).EnumerateArray().Select(e => e.GetInt32())];

    /// <summary>A boolean in the config.</summary>
    public bool ConfigBool(string key) => Config.GetProperty(key).GetBoolean();

    /// <summary>A number in the config.</summary>
    public double ConfigDouble(string key) => Config.GetProperty(key).GetDouble();

    /// <summary>True when the config has <paramref name="key"/>.</summary>
    public bool ConfigHas(string key) => Config.TryGetProperty(key, out _);

    /// <summary>
    /// The engine's padding for a conv/pool config: <c>"same"</c> → Same, <c>[0, 0]</c> (or none)
    /// → Valid, <c>[p, p]</c> → Explicit with pad p.
    /// </summary>
    public (PaddingMode Mode, int Pad) Padding()
    {
        if (!Config.TryGetProperty("padding", out var p)) return (PaddingMode.Valid, 0);
        if (p.ValueKind == JsonValueKind.String)
        {
            Assert.Equal("same", p.GetString());
            return (PaddingMode.Same, 0);
        }
        int[] pads = [.. p.EnumerateArray().Select(e => e.GetInt32())];
        Assert.True(pads.Length == 2 && pads[0] == pads[1], $"{Name}: only symmetric square padding is supported, got [{string.Join(", ", pads)}]");
        return pads[0] == 0 ? (PaddingMode.Valid, 0) : (PaddingMode.Explicit, pads[0]);
    }

    private static GoldenTensor ParseTensor(JsonElement t, string what)
    {
        int[] shape = [.. t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32())];
        double[] data = [.. t.GetProperty("data").EnumerateArray().Select(e => e.GetDouble())];
        long size = 1;
        foreach (var d in shape) size *= d;
        Assert.True(size == data.Length, $"{what}: shape [{string.Join(", ", shape)}] needs {size} values, the file has {data.Length}");
        return new GoldenTensor(shape, data);
    }

    // ---------------------------------------------------------------- layout conversions

    /// <summary>float64 → float32.</summary>
    public static float[] ToFloats(ReadOnlySpan<double> data)
    {
        var f = new float[data.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)data[i];
        return f;
    }

    /// <summary>float32 → float64.</summary>
    public static double[] ToDoubles(ReadOnlySpan<float> data)
    {
        var d = new double[data.Length];
        for (int i = 0; i < d.Length; i++) d[i] = data[i];
        return d;
    }

    /// <summary>(N, C, H, W) → (N, H, W, C); a rank-2 (N, F) tensor is returned unchanged.</summary>
    public static GoldenTensor NchwToNhwc(GoldenTensor t)
    {
        if (t.Shape.Length == 2) return t;
        Assert.True(t.Shape.Length == 4, $"NchwToNhwc expects a rank-4 tensor, got {t.ShapeText}");
        int n = t.Shape[0], c = t.Shape[1], h = t.Shape[2], w = t.Shape[3];
        return new GoldenTensor([n, h, w, c], NchwToNhwc(t.Data, n, c, h, w));
    }

    /// <summary>(N, C, H, W) → (N, H, W, C), raw data.</summary>
    public static double[] NchwToNhwc(ReadOnlySpan<double> x, int n, int c, int h, int w)
    {
        var r = new double[x.Length];
        for (int s = 0; s < n; s++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        r[((s * h + i) * w + j) * c + ch] = x[((s * c + ch) * h + i) * w + j];
        return r;
    }

    /// <summary>(N, H, W, C) → (N, C, H, W), raw data.</summary>
    public static double[] NhwcToNchw(ReadOnlySpan<double> x, int n, int h, int w, int c)
    {
        var r = new double[x.Length];
        for (int s = 0; s < n; s++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    for (int ch = 0; ch < c; ch++)
                        r[((s * c + ch) * h + i) * w + j] = x[((s * h + i) * w + j) * c + ch];
        return r;
    }

    /// <summary>(N, H, W, C) float32 → (N, C, H, W) float64.</summary>
    public static double[] NhwcToNchw(ReadOnlySpan<float> x, int n, int h, int w, int c) => NhwcToNchw(ToDoubles(x), n, h, w, c);

    /// <summary>PyTorch conv weight (out, in, kh, kw) → Keras kernel (kh, kw, in, out).</summary>
    public static GoldenTensor ConvWeightToKeras(GoldenTensor t)
    {
        Assert.True(t.Shape.Length == 4, $"ConvWeightToKeras expects (out, in, kh, kw), got {t.ShapeText}");
        int o = t.Shape[0], ci = t.Shape[1], kh = t.Shape[2], kw = t.Shape[3];
        var r = new double[t.Size];
        for (int f = 0; f < o; f++)
            for (int c = 0; c < ci; c++)
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++)
                        r[((i * kw + j) * ci + c) * o + f] = t.Data[((f * ci + c) * kh + i) * kw + j];
        return new GoldenTensor([kh, kw, ci, o], r);
    }

    /// <summary>PyTorch linear weight (out, in) → Keras kernel (in, out).</summary>
    public static GoldenTensor DenseWeightToKeras(GoldenTensor t)
    {
        Assert.True(t.Shape.Length == 2, $"DenseWeightToKeras expects (out, in), got {t.ShapeText}");
        int o = t.Shape[0], inF = t.Shape[1];
        var r = new double[t.Size];
        for (int u = 0; u < o; u++)
            for (int i = 0; i < inF; i++)
                r[i * o + u] = t.Data[u * inF + i];
        return new GoldenTensor([inF, o], r);
    }

    /// <summary>
    /// PyTorch linear weight (out, C·H·W) that follows a (C, H, W) flatten → Keras kernel
    /// (H·W·C, out) for the engine's (H, W, C) flatten: the input rows are permuted.
    /// </summary>
    public static GoldenTensor FlattenedChwDenseWeightToKeras(GoldenTensor t, int c, int h, int w)
    {
        Assert.True(t.Shape.Length == 2 && t.Shape[1] == c * h * w, $"expects (out, {c}·{h}·{w}), got {t.ShapeText}");
        int o = t.Shape[0];
        var r = new double[t.Size];
        for (int u = 0; u < o; u++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        r[((i * w + j) * c + ch) * o + u] = t.Data[u * (c * h * w) + (ch * h + i) * w + j];
        return new GoldenTensor([h * w * c, o], r);
    }

    /// <summary>PyTorch depthwise weight (C, 1, kh, kw) → engine kernel (kh, kw, C).</summary>
    public static GoldenTensor DepthwiseWeightToKeras(GoldenTensor t)
    {
        Assert.True(t.Shape.Length == 4 && t.Shape[1] == 1, $"DepthwiseWeightToKeras expects (C, 1, kh, kw), got {t.ShapeText}");
        int c = t.Shape[0], kh = t.Shape[2], kw = t.Shape[3];
        var r = new double[t.Size];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                    r[(i * kw + j) * c + ch] = t.Data[(ch * kh + i) * kw + j];
        return new GoldenTensor([kh, kw, c], r);
    }

    // ---------------------------------------------------------------- assertion

    /// <summary>
    /// Asserts |actual − expected| ≤ abs + rel·|expected| element-wise. The failure message names
    /// the tensor, the first bad index, both values, and how many elements are off.
    /// </summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rel = 1e-4, double abs = 1e-5, string what = "tensor") =>
        AssertClose(expected, ToDoubles(actual), rel, abs, what);

    /// <inheritdoc cref="AssertClose(ReadOnlySpan{double}, ReadOnlySpan{float}, double, double, string)"/>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double rel = 1e-4, double abs = 1e-5, string what = "tensor")
    {
        if (expected.Length != actual.Length)
            Assert.Fail($"{what}: expected {expected.Length} values, got {actual.Length}");
        int first = -1, bad = 0;
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i], d = Math.Abs(a - e);
            bool ok = d <= abs + rel * Math.Abs(e) && !double.IsNaN(a);
            if (!ok)
            {
                bad++;
                if (first < 0) first = i;
            }
            double excess = double.IsNaN(a) ? double.PositiveInfinity : d / (abs + rel * Math.Abs(e));
            if (excess > worst) { worst = excess; worstIndex = i; }
        }
        if (first < 0) return;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{what}: {bad} of {expected.Length} values differ (tolerance {rel:G3} rel + {abs:G3} abs); ");
        sb.Append(CultureInfo.InvariantCulture, $"first bad index {first}: expected {expected[first]:G9}, actual {actual[first]:G9} (|diff| {Math.Abs(actual[first] - expected[first]):G3}); ");
        sb.Append(CultureInfo.InvariantCulture, $"worst index {worstIndex}: expected {expected[worstIndex]:G9}, actual {actual[worstIndex]:G9}");
        Assert.Fail(sb.ToString());
    }
}

/// <summary>
/// A one-layer <see cref="Sequential"/> around a layer, so the layer is built and bound to the
/// model's flat buffers, with direct access to the layer's internal forward and backward.
/// </summary>
internal sealed class LayerHarness
{
    public LayerHarness(TensorShape inputShape, Layer layer, int maxBatch)
    {
        Layer = layer;
        Model = new Sequential(inputShape, [layer]);
        // Buffers larger than the batches used, so a layer that sizes work by its buffers rather
        // than by the batch shows up.
        Model.EnsureCapacity(maxBatch + 2);
    }

    public Sequential Model { get; }

    public Layer Layer { get; }

    public int InSize => Layer.InputShape.Size;

    public int OutSize => Layer.OutputShape.Size;

    /// <summary>Offset of parameter tensor <paramref name="index"/> in <see cref="Sequential.Weights"/>.</summary>
    public int ParameterOffset(int index)
    {
        int o = Layer.ParameterOffset;
        for (int i = 0; i < index; i++) o += Layer.Parameters[i].Shape.Size;
        return o;
    }

    public int ParameterSize(int index) => Layer.Parameters[index].Shape.Size;

    public Span<float> Parameter(int index) => Model.Weights.AsSpan(ParameterOffset(index), ParameterSize(index));

    public Span<float> GradientSpan(int index) => Model.Gradients.AsSpan(ParameterOffset(index), ParameterSize(index));

    /// <summary>A copy of the gradient of parameter tensor <paramref name="index"/>.</summary>
    public float[] Gradient(int index) => GradientSpan(index).ToArray();

    public void SetParameter(int index, ReadOnlySpan<double> values)
    {
        Assert.True(values.Length == ParameterSize(index), $"{Layer.Name}: parameter {Layer.Parameters[index].Name} has {ParameterSize(index)} values, got {values.Length}");
        var p = Parameter(index);
        for (int i = 0; i < values.Length; i++) p[i] = (float)values[i];
    }

    /// <summary>Fills every parameter with seeded uniform values in [−scale, scale].</summary>
    public void RandomizeParameters(int seed, double scale = 0.5)
    {
        var rng = new Random(seed);
        for (int i = 0; i < Model.Weights.Length; i++) Model.Weights[i] = (float)((2 * rng.NextDouble() - 1) * scale);
    }

    public float[] Forward(float[] x, int batch, StepContext context)
    {
        Assert.Equal(batch * InSize, x.Length);
        var y = new float[batch * OutSize];
        Layer.Forward(x, y, batch, context);
        return y;
    }

    public float[] Backward(float[] x, float[] y, float[] dy, int batch, bool computeInputGradient = true)
    {
        var dx = new float[batch * InSize];
        Layer.Backward(x, y, dy, dx, batch, computeInputGradient);
        return dx;
    }

    public static StepContext Training(int batch, ulong seed = 7, int epoch = 0) =>
        new() { Training = true, UpdateRunningStatistics = false, Seed = seed, Epoch = epoch, SampleIndices = [.. Enumerable.Range(100, batch)] };
}

/// <summary>
/// Finite-difference check of a layer's backward: L = Σ r·y for a seeded random upstream
/// gradient r; the analytic dL/dx and dL/dθ from backward are compared with central differences
/// of L (accumulated in double over the float32 forward). Error metric per tensor:
/// max|a − n| / max(max|a|, max|n|, 1e-3); the default bound 2e-3 is ~30× the float32 noise
/// observed (≤ 6e-5) and far below what a wrong term gives (≥ 0.1).
/// </summary>
internal static class GradientCheck
{
    /// <summary>Seeded uniform values in [lo, hi).</summary>
    public static float[] Uniform(int count, int seed, double lo = -1, double hi = 1)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return a;
    }

    /// <summary>Seeded values in [−1, 1] at least <paramref name="margin"/> away from each of <paramref name="kinks"/>.</summary>
    public static float[] AwayFrom(int count, int seed, double scale, double margin, params double[] kinks)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < count; i++)
        {
            double v;
            do v = (2 * rng.NextDouble() - 1) * scale;
            while (kinks.Any(k => Math.Abs(v - k) < margin));
            a[i] = (float)v;
        }
        return a;
    }

    /// <summary>
    /// Runs the check. <paramref name="region"/>, for piecewise-linear layers, maps an output to
    /// the linear piece it lies on; a coordinate whose ±eps outputs lie on different pieces is
    /// retried with a smaller step and skipped if it still straddles a kink (at most 5% may be).
    /// </summary>
    public static void BackwardMatchesFiniteDifferences(LayerHarness h, float[] x, int batch, StepContext context,
        int seed = 1, float eps = 1e-2f, double tolerance = 2e-3, Func<float[], int[]>? region = null, bool checkInput = true)
    {
        var r = Uniform(batch * h.OutSize, seed + 1000);
        var y = h.Forward(x, batch, context);
        h.Model.Gradients.AsSpan().Fill(float.NaN);
        var dx = h.Backward(x, y, r, batch, computeInputGradient: true);
        var analyticParams = new float[h.Layer.Parameters.Count][];
        for (int p = 0; p < analyticParams.Length; p++) analyticParams[p] = h.Gradient(p);

        var xw = (float[])x.Clone();
        double Loss()
        {
            var yy = h.Forward(xw, batch, context);
            double l = 0;
            for (int i = 0; i < yy.Length; i++) l += (double)r[i] * yy[i];
            return l;
        }
        int[]? Region() => region?.Invoke(h.Forward(xw, batch, context));

        int skipped = 0, total = 0;
        double[] Numeric(float[] target, int count)
        {
            var num = new double[count];
            for (int i = 0; i < count; i++)
            {
                total++;
                float orig = target[i];
                float step = eps;
                bool done = false;
                for (int attempt = 0; attempt < 3 && !done; attempt++, step /= 4)
                {
                    float plus = orig + step, minus = orig - step;
                    target[i] = plus;
                    double lp = Loss();
                    int[]? rp = Region();
                    target[i] = minus;
                    double lm = Loss();
                    int[]? rm = Region();
                    target[i] = orig;
                    if (rp is not null && !rp.AsSpan().SequenceEqual(rm)) continue;
                    num[i] = (lp - lm) / ((double)plus - minus);
                    done = true;
                }
                if (!done) { skipped++; num[i] = double.NaN; }
            }
            return num;
        }

        if (checkInput)
        {
            var numX = Numeric(xw, xw.Length);
            Compare(dx, numX, tolerance, $"{Label(h.Layer)} dL/dx");
        }
        for (int p = 0; p < analyticParams.Length; p++)
        {
            if (!h.Layer.Trainable) break;
            int off = h.ParameterOffset(p), size = h.ParameterSize(p);
            var weights = h.Model.Weights;
            var numP = new double[size];
            var tmp = weights.AsSpan(off, size).ToArray();
            // Perturb in place in the model's weight buffer.
            for (int i = 0; i < size; i++)
            {
                total++;
                float orig = weights[off + i];
                float step = eps;
                bool done = false;
                for (int attempt = 0; attempt < 3 && !done; attempt++, step /= 4)
                {
                    float plus = orig + step, minus = orig - step;
                    weights[off + i] = plus;
                    double lp = Loss();
                    int[]? rp = Region();
                    weights[off + i] = minus;
                    double lm = Loss();
                    int[]? rm = Region();
                    weights[off + i] = orig;
                    if (rp is not null && !rp.AsSpan().SequenceEqual(rm)) continue;
                    numP[i] = (lp - lm) / ((double)plus - minus);
                    done = true;
                }
                if (!done) { skipped++; numP[i] = double.NaN; }
            }
            Assert.True(tmp.AsSpan().SequenceEqual(weights.AsSpan(off, size)), "weights were not restored");
            Compare(analyticParams[p], numP, tolerance, $"{Label(h.Layer)} dL/d{h.Layer.Parameters[p].Name}");
        }
        Assert.True(skipped <= total / 20, $"{skipped} of {total} coordinates straddle a kink; choose inputs further from it");
    }

    /// <summary>max|a − n| / max(max|a|, max|n|, 1e-3) &lt; tolerance, ignoring skipped (NaN) coordinates.</summary>
    public static void Compare(ReadOnlySpan<float> analytic, ReadOnlySpan<double> numeric, double tolerance, string what)
    {
        Assert.Equal(numeric.Length, analytic.Length);
        double maxA = 0, maxN = 0, maxDiff = 0;
        int worst = -1;
        for (int i = 0; i < numeric.Length; i++)
        {
            if (double.IsNaN(numeric[i])) continue;
            double a = analytic[i], n = numeric[i];
            if (double.IsNaN(a)) Assert.Fail($"{what}: analytic gradient at index {i} is NaN (backward did not write it)");
            maxA = Math.Max(maxA, Math.Abs(a));
            maxN = Math.Max(maxN, Math.Abs(n));
            double d = Math.Abs(a - n);
            if (d > maxDiff) { maxDiff = d; worst = i; }
        }
        double err = maxDiff / Math.Max(Math.Max(maxA, maxN), 1e-3);
        Assert.True(err < tolerance,
            string.Create(CultureInfo.InvariantCulture,
                $"{what}: relative error {err:G3} ≥ {tolerance:G3}; worst index {worst}: analytic {(worst >= 0 ? analytic[worst] : 0):G6}, numeric {(worst >= 0 ? numeric[worst] : 0):G6} (max |analytic| {maxA:G3})"));
    }

    public static string Label(Layer layer) => $"{layer.Name} ({layer.TypeName})";

    /// <summary>Region map for a ReLU-type output: 0 at or below 0, 2 at or above the cap, 1 between.</summary>
    public static Func<float[], int[]> ReluRegion(float cap = float.PositiveInfinity) =>
        y => [.. y.Select(v => v <= 0f ? 0 : v >= cap ? 2 : 1)];
}
