using System.Buffers.Binary;
using System.Text;

namespace Distributed.Engine.Export;

/// <summary>
/// The few Protocol Buffers wire-format primitives an ONNX file needs (varints, 32-bit floats,
/// length-delimited strings, bytes and nested messages), written into a growable buffer. Nested
/// messages are built in their own writer and embedded with <see cref="Message"/>.
/// </summary>
internal sealed class ProtoWriter
{
    private const int Varint = 0, Fixed32 = 5, LengthDelimited = 2;
    private readonly MemoryStream _buffer = new();

    /// <summary>Bytes written so far.</summary>
    public long Length => _buffer.Length;

    /// <summary>An int64/int32/enum field.</summary>
    public ProtoWriter Int(int field, long value)
    {
        Tag(field, Varint);
        WriteVarint(unchecked((ulong)value));
        return this;
    }

    /// <summary>A float field (wire type fixed32).</summary>
    public ProtoWriter Float(int field, float value)
    {
        Tag(field, Fixed32);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>A UTF-8 string field.</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A bytes field.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimited);
        WriteVarint((ulong)value.Length);
        _buffer.Write(value);
        return this;
    }

    /// <summary>A packed repeated int64 field.</summary>
    public ProtoWriter PackedInts(int field, IEnumerable<long> values)
    {
        var inner = new ProtoWriter();
        foreach (long v in values) inner.WriteVarint(unchecked((ulong)v));
        return Bytes(field, inner.ToArray());
    }

    /// <summary>An embedded message field.</summary>
    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    /// <summary>The encoded bytes.</summary>
    public byte[] ToArray() => _buffer.ToArray();

    /// <summary>Copies the encoded bytes to a stream.</summary>
    public void CopyTo(Stream destination)
    {
        _buffer.Position = 0;
        _buffer.CopyTo(destination);
    }

    private void Tag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

    private void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }
}
