using System.Security.Cryptography;
using System.Text;
using Distributed.Engine.Layers;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Models;

/// <summary>
/// A <see cref="Sequential"/> model described as data, with Keras's names:
/// <c>{"input_shape": [28, 28, 1], "layers": [{"class_name": "Conv2D", "filters": 32, "kernel_size": 3, "activation": "relu"}, ...]}</c>.
/// Immutable and canonical: two specifications are equal exactly when they build the same model
/// (same layers, settings, names and trainable flags); <see cref="ToJson"/> writes the canonical
/// form, which <see cref="Parse"/> reads back to an equal specification.
/// </summary>
public sealed class ModelSpec : IEquatable<ModelSpec>
{
    /// <summary>Most layers a specification may have.</summary>
    public const int MaxLayers = 1000;

    /// <summary>Most parameters (trainable, frozen and state, as Keras counts them) a built model may have.</summary>
    public const long MaxParameters = 200_000_000;

    /// <summary>Largest specification file <see cref="Load"/> reads, and longest JSON text <see cref="Parse"/> accepts (in characters).</summary>
    public const long MaxFileBytes = 16 << 20;

    /// <summary>
    /// Deepest JSON nesting a specification may have (objects and arrays). A specification needs 4
    /// (the model, its layer list, a layer, its <c>config</c>) plus one for a <c>[h, w]</c> pair.
    /// </summary>
    public const int MaxJsonDepth = 32;

    /// <summary>
    /// Largest value of any size in a specification: each input dimension, <c>filters</c>,
    /// <c>units</c>, kernel and pool sizes, strides and explicit padding (2²⁰ = 1,048,576). Keeps
    /// the shape arithmetic far from overflow; the totals are bounded by <see cref="MaxParameters"/>
    /// and by <see cref="int.MaxValue"/> values per sample.
    /// </summary>
    public const int MaxDimension = 1 << 20;

    private readonly LayerSpec[] _layers;
    private string? _json;
    private string? _fingerprint;
    private string? _architectureFingerprint;

    /// <summary>
    /// Creates a specification. A layer name equal to the one Keras would generate anyway is
    /// dropped (it is not part of the canonical form), so that equal models give equal specs.
    /// </summary>
    /// <exception cref="ModelSpecException">Bad input shape, no or too many layers, or a repeated layer name.</exception>
    public ModelSpec(TensorShape inputShape, IEnumerable<LayerSpec> layers, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (inputShape.Rank is < 1 or > 3)
            throw new ModelSpecException($"'input_shape' must have 1 to 3 dimensions, got {inputShape}");
        if (inputShape.Dims.Any(d => d > MaxDimension))
            throw new ModelSpecException($"'input_shape' {inputShape} has a dimension larger than the limit of {MaxDimension:N0}");
        long size = 1;
        foreach (int d in inputShape.Dims) size *= d;
        if (size > int.MaxValue) throw new ModelSpecException($"'input_shape' {inputShape} is too large: {size:N0} values per sample");
        if (name is { Length: 0 }) throw new ModelSpecException("'name' must not be empty");
        var list = layers.ToArray();
        if (list.Length == 0) throw new ModelSpecException("'layers' is empty; a model needs at least one layer");
        if (list.Length > MaxLayers) throw new ModelSpecException($"'layers' has {list.Length:N0} layers, more than the limit of {MaxLayers:N0}");
        for (int i = 0; i < list.Length; i++)
        {
            if (list[i] is null) throw new ModelSpecException($"layers[{i}] is null");
        }
        InputShape = inputShape;
        Name = name;
        _layers = CanonicalNames(list);
    }

    /// <summary>The model's name (Keras's <c>name</c>), or null.</summary>
    public string? Name { get; }

    /// <summary>Per-sample input shape, e.g. (28, 28, 1).</summary>
    public TensorShape InputShape { get; }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<LayerSpec> Layers => _layers;

    /// <summary>Parses a JSON specification.</summary>
    /// <exception cref="ModelSpecException">Malformed JSON (with line and position) or an invalid specification; the one-line message names the layer and key.</exception>
    public static ModelSpec Parse(string json) => ModelSpecParser.Parse(json);

    /// <summary>Reads and parses a JSON specification file.</summary>
    /// <exception cref="ModelSpecException">The file is missing, unreadable or invalid; the message names the path.</exception>
    public static ModelSpec Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string json;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ModelSpecException($"model spec file '{path}' does not exist");
            if (info.Length > MaxFileBytes)
                throw new ModelSpecException($"model spec file '{path}' is {info.Length:N0} bytes, more than the limit of {MaxFileBytes:N0}");
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelSpecException($"cannot read model spec file '{path}': {e.Message}");
        }
        try
        {
            return Parse(json);
        }
        catch (ModelSpecException e)
        {
            throw new ModelSpecException($"{path}: {e.Message}");
        }
    }

    /// <summary>Describes a model from its layers' types and properties, including names and trainable flags.</summary>
    /// <exception cref="ModelSpecException">A layer type cannot be written as a specification.</exception>
    public static ModelSpec FromModel(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new ModelSpec(model.InputShape, model.Layers.Select(l => LayerSpec.FromLayer(l)));
    }

    /// <summary>The canonical JSON; indented puts one layer per line.</summary>
    public string ToJson(bool indented = true) =>
        indented ? ModelSpecWriter.Write(this, indented: true) : _json ??= ModelSpecWriter.Write(this, indented: false);

    /// <summary>SHA-256 (lowercase hex) of the compact canonical JSON: changes with anything in the specification.</summary>
    public string Fingerprint => _fingerprint ??= Sha256(ToJson(indented: false));

    /// <summary>
    /// SHA-256 (lowercase hex) of the canonical JSON without the model name and the trainable
    /// flags: equal for specifications whose built models have the same weight layout, layer
    /// names and behaviour. Use it to check that a checkpoint belongs to a model.
    /// </summary>
    public string ArchitectureFingerprint => _architectureFingerprint ??= Sha256(ModelSpecWriter.Write(this, indented: false, architectureOnly: true));

    /// <summary>Builds the model (weights not initialised).</summary>
    /// <exception cref="ModelSpecException">The model would have more than <see cref="MaxParameters"/> parameters or an absurdly large activation.</exception>
    /// <exception cref="ModelBuildException">A layer does not fit its input (shapes, kernel larger than the input); the message names the layer.</exception>
    public Sequential Build()
    {
        var layers = _layers.Select(l => l.CreateLayer()).ToArray();
        CheckSize(layers);
        return new Sequential(InputShape, layers);
    }

    /// <summary>
    /// Infers every layer's shape and counts the parameters and state values (Keras's total) without
    /// allocating anything of the model's size: the checks <see cref="Build"/> makes before it allocates.
    /// </summary>
    /// <returns>The total, at most <see cref="MaxParameters"/>.</returns>
    /// <exception cref="ModelSpecException">The model would have more than <see cref="MaxParameters"/> parameters or an absurdly large activation.</exception>
    /// <exception cref="ModelBuildException">A layer does not fit its input; the message names the layer.</exception>
    public long CountParameters()
    {
        var (total, fits) = CheckSize([.. _layers.Select(l => l.CreateLayer())]);
        // Sequential names the layers, infers the shapes and throws naming the misfit before it allocates a buffer.
        if (!fits) _ = new Sequential(InputShape, _layers.Select(l => l.CreateLayer()));
        return total;
    }

    /// <summary>A copy with another input shape.</summary>
    public ModelSpec WithInputShape(TensorShape inputShape) =>
        inputShape == InputShape ? this : new ModelSpec(inputShape, _layers, Name);

    /// <summary>A copy with another model name (null for none).</summary>
    public ModelSpec WithName(string? name) => name == Name ? this : new ModelSpec(InputShape, _layers, name);

    /// <summary>A copy whose last Dense layer (the classifier head) has <paramref name="classes"/> units.</summary>
    /// <exception cref="ModelSpecException">Classes is not positive, or the model has no Dense layer.</exception>
    public ModelSpec WithClasses(int classes)
    {
        if (classes <= 0) throw new ModelSpecException($"the number of classes must be positive, got {classes}");
        int head = Array.FindLastIndex(_layers, l => l.ClassName == "Dense");
        if (head < 0) throw new ModelSpecException($"cannot set the number of classes to {classes}: the model has no Dense layer");
        if (_layers[head].Config["units"] is int units && units == classes) return this;
        var layers = (LayerSpec[])_layers.Clone();
        layers[head] = layers[head].With("units", classes);
        return new ModelSpec(InputShape, layers, Name);
    }

    /// <summary>
    /// Infers shapes and counts parameters before <see cref="Sequential"/> allocates its buffers,
    /// so a huge specification fails with a clear message instead of exhausting memory.
    /// </summary>
    private (long Total, bool Fits) CheckSize(Layer[] layers)
    {
        var shape = InputShape;
        long total = 0, largest = -1;
        int largestIndex = 0;
        for (int i = 0; i < layers.Length; i++)
        {
            try
            {
                shape = layers[i].Build(shape);
            }
            catch (ModelBuildException)
            {
                return (total, false); // Sequential reports it, naming the layer by its final name
            }
            catch (OverflowException)
            {
                throw new ModelSpecException($"{Where(i)}: its input or output is too large (more than {int.MaxValue:N0} values per sample)");
            }
            long size = 1;
            foreach (int d in shape.Dims) size *= d;
            if (size > int.MaxValue)
                throw new ModelSpecException($"{Where(i)}: output shape {shape} is too large (more than {int.MaxValue:N0} values per sample)");
            long count = LayerSpec.CountParameters(layers[i]);
            total += count;
            if (count > largest) { largest = count; largestIndex = i; }
        }
        if (total > MaxParameters)
            throw new ModelSpecException(
                $"the model has {total:N0} parameters, more than the limit of {MaxParameters:N0}; the largest layer is {Where(largestIndex)} with {largest:N0}");
        return (total, true);
    }

    private string Where(int i) => $"layers[{i}] ({_layers[i].ClassName})";

    /// <summary>
    /// Keeps only the names that differ from what Keras-style auto-naming (as
    /// <see cref="Sequential"/> does it) would produce, so that the spec is canonical.
    /// </summary>
    private static LayerSpec[] CanonicalNames(LayerSpec[] layers)
    {
        var stems = layers.Select(l => l.CreateLayer().DefaultNameStem).ToArray();
        var given = layers.Select(l => l.Name).ToArray();
        for (int i = 0; i < given.Length; i++)
        {
            if (given[i] is null) continue;
            int first = Array.IndexOf(given, given[i]);
            if (first < i)
                throw new ModelSpecException($"layers[{i}] ({layers[i].ClassName}): name '{given[i]}' is already used by layers[{first}]; layer names must be unique");
        }
        var final = AssignNames(stems, given);
        var keep = new bool[layers.Length];
        bool changed = true;
        while (changed)
        {
            changed = false;
            var names = AssignNames(stems, [.. final.Select((n, i) => keep[i] ? n : null)]);
            for (int i = 0; i < layers.Length; i++)
            {
                if (!keep[i] && names[i] != final[i]) { keep[i] = true; changed = true; }
            }
        }
        var result = new LayerSpec[layers.Length];
        for (int i = 0; i < layers.Length; i++) result[i] = layers[i].WithName(keep[i] ? final[i] : null);
        return result;
    }

    /// <summary>The names <see cref="Sequential"/> gives: explicit ones kept, the rest <c>stem</c>, <c>stem_1</c>, ... skipping used names.</summary>
    private static string[] AssignNames(string[] stems, string?[] explicitNames)
    {
        var used = new HashSet<string>(explicitNames.OfType<string>(), StringComparer.Ordinal);
        var counters = new Dictionary<string, int>(StringComparer.Ordinal);
        var names = new string[stems.Length];
        for (int i = 0; i < stems.Length; i++)
        {
            if (explicitNames[i] is { } n) { names[i] = n; continue; }
            string name;
            do
            {
                int k = counters.GetValueOrDefault(stems[i]);
                counters[stems[i]] = k + 1;
                name = k == 0 ? stems[i] : $"{stems[i]}_{k}";
            } while (!used.Add(name));
            names[i] = name;
        }
        return names;
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <inheritdoc/>
    public bool Equals(ModelSpec? other) => other is not null && ToJson(indented: false) == other.ToJson(indented: false);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ModelSpec);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToJson(indented: false));

    /// <summary>Value equality.</summary>
    public static bool operator ==(ModelSpec? left, ModelSpec? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(ModelSpec? left, ModelSpec? right) => !(left == right);

    /// <summary>The compact canonical JSON.</summary>
    public override string ToString() => ToJson(indented: false);
}
