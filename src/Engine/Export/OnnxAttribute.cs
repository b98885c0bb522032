namespace Distributed.Engine.Export;

/// <summary>A node attribute: an int, a float or a list of ints.</summary>
internal readonly record struct OnnxAttribute(string Name, long? IntValue = null, float? FloatValue = null, long[]? Ints = null)
{
    /// <summary>An INT attribute.</summary>
    public static OnnxAttribute Of(string name, long value) => new(name, IntValue: value);
    /// <summary>A FLOAT attribute.</summary>
    public static OnnxAttribute Of(string name, float value) => new(name, FloatValue: value);
    /// <summary>An INTS attribute.</summary>
    public static OnnxAttribute Of(string name, params long[] values) => new(name, Ints: values);

    internal ProtoWriter Encode()
    {
        var a = new ProtoWriter().String(1, Name);
        if (IntValue is long i) return a.Int(3, i).Int(20, 2 /* INT */);
        if (FloatValue is float f) return a.Float(2, f).Int(20, 1 /* FLOAT */);
        return a.PackedInts(8, Ints ?? []).Int(20, 7 /* INTS */);
    }
}
