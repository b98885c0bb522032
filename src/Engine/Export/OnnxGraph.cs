using System.Runtime.InteropServices;

namespace Distributed.Engine.Export;

/// <summary>
/// An ONNX graph under construction: nodes in topological order, float32 initializers and the
/// graph's inputs and outputs, written as a <c>ModelProto</c> (field numbers from onnx.proto).
/// </summary>
internal sealed class OnnxGraph(string name)
{
    /// <summary>ONNX IR version 7 (ONNX 1.7+), which every runtime that supports opset 13 reads.</summary>
    public const long IrVersion = 7;

    /// <summary>The default-domain operator set the nodes are written for.</summary>
    public const long Opset = 13;

    private readonly List<ProtoWriter> _nodes = [];
    private readonly List<ProtoWriter> _initializers = [];
    private readonly List<ProtoWriter> _inputs = [];
    private readonly List<ProtoWriter> _outputs = [];
    private readonly HashSet<string> _names = [];
    private int _counter;

    static OnnxGraph()
    {
        // raw_data is little-endian; the arrays are written as they lie in memory.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX export needs a little-endian machine");
    }

    /// <summary>A fresh value name that starts with <paramref name="stem"/>.</summary>
    public string Fresh(string stem)
    {
        string candidate = stem;
        while (!_names.Add(candidate)) candidate = $"{stem}_{++_counter}";
        return candidate;
    }

    /// <summary>Adds a float32 initializer of the given dimensions; returns its name.</summary>
    public string Initializer(string stem, ReadOnlySpan<float> values, params long[] dims)
    {
        long size = dims.Aggregate(1L, (a, d) => a * d);
        if (size != values.Length) throw new ArgumentException($"initializer {stem}: {values.Length} values for dimensions ({string.Join(", ", dims)})");
        string name = Fresh(stem);
        var tensor = new ProtoWriter().PackedInts(1, dims).Int(2, 1 /* FLOAT */).String(8, name)
            .Bytes(9, MemoryMarshal.AsBytes(values));
        _initializers.Add(tensor);
        return name;
    }

    /// <summary>Adds an int64 initializer (shapes, axes); returns its name.</summary>
    public string Int64Initializer(string stem, params long[] values)
    {
        string name = Fresh(stem);
        _initializers.Add(new ProtoWriter().PackedInts(1, [values.Length]).Int(2, 7 /* INT64 */).String(8, name)
            .Bytes(9, MemoryMarshal.AsBytes(values.AsSpan())));
        return name;
    }

    /// <summary>Adds a scalar float32 initializer (e.g. Clip bounds); returns its name.</summary>
    public string Scalar(string stem, float value)
    {
        string name = Fresh(stem);
        _initializers.Add(new ProtoWriter().Int(2, 1).String(8, name).Bytes(9, BitConverter.GetBytes(value)));
        return name;
    }

    /// <summary>Adds a node with one output; returns the output's name.</summary>
    public string Node(string opType, string nodeName, string[] inputs, params OnnxAttribute[] attributes)
    {
        string output = Fresh(nodeName);
        var node = new ProtoWriter();
        foreach (string input in inputs) node.String(1, input);
        node.String(2, output).String(3, output).String(4, opType);
        foreach (var a in attributes) node.Message(5, a.Encode());
        _nodes.Add(node);
        return output;
    }

    /// <summary>Declares a graph input of element type float32; a null dimension is the symbolic batch size.</summary>
    public void Input(string name, params long?[] dims)
    {
        _names.Add(name);
        _inputs.Add(ValueInfo(name, dims));
    }

    /// <summary>Declares a graph output (an existing value) of element type float32.</summary>
    public void Output(string name, params long?[] dims) => _outputs.Add(ValueInfo(name, dims));

    /// <summary>Writes the whole model.</summary>
    public void WriteModel(Stream destination, string producerVersion, string docString)
    {
        var graph = new ProtoWriter();
        foreach (var n in _nodes) graph.Message(1, n);
        graph.String(2, name);
        foreach (var t in _initializers) graph.Message(5, t);
        foreach (var i in _inputs) graph.Message(11, i);
        foreach (var o in _outputs) graph.Message(12, o);
        var model = new ProtoWriter()
            .Int(1, IrVersion)
            .String(2, "Distributed")
            .String(3, producerVersion)
            .String(6, docString)
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Int(2, Opset));
        model.CopyTo(destination);
    }

    private static ProtoWriter ValueInfo(string name, long?[] dims)
    {
        var shape = new ProtoWriter();
        foreach (long? d in dims)
            shape.Message(1, d is long value ? new ProtoWriter().Int(1, value) : new ProtoWriter().String(2, "batch"));
        var tensorType = new ProtoWriter().Int(1, 1 /* FLOAT */).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }
}
