namespace Distributed.Messages.Serialization;

/// <summary>
/// An encoded tensor message in a buffer from <see cref="TensorBufferPool"/>, shared by everyone who
/// still has to send it (one weight broadcast goes to every worker's link): each holder calls
/// <see cref="Release"/> once, and the last one hands the buffer back to the pool.
/// </summary>
public sealed class EncodedFrame
{
    private int _holders = 1;

    /// <summary>Wraps <paramref name="buffer"/>'s first <paramref name="length"/> bytes; the creator is the first holder.</summary>
    public EncodedFrame(byte[] buffer, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)buffer.Length, nameof(length));
        Buffer = buffer;
        Length = length;
    }

    /// <summary>The buffer; only its first <see cref="Length"/> bytes are the message.</summary>
    public byte[] Buffer { get; }

    /// <summary>Encoded bytes.</summary>
    public int Length { get; }

    /// <summary>The encoded bytes.</summary>
    public ReadOnlyMemory<byte> Memory => Buffer.AsMemory(0, Length);

    /// <summary>Adds a holder (call before handing the frame to another sender).</summary>
    public EncodedFrame Share()
    {
        Interlocked.Increment(ref _holders);
        return this;
    }

    /// <summary>One holder is done with the bytes; the last returns the buffer to the pool.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _holders) == 0) TensorBufferPool.Return(Buffer);
    }
}
