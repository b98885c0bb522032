namespace Distributed.Messages.Serialization;

/// <summary>
/// Reuses the large arrays that every iteration's tensors pass through (encoded frames, decoded
/// weights and gradients), so a training run does not allocate megabytes per iteration: on these
/// VMs each fresh page of a new large array is a page fault, and they cost more than the copies.
/// Only arrays rented here are taken back (an array the caller made itself is never pooled), and
/// a few per size at most; small arrays are plain allocations. Thread-safe.
/// </summary>
public static class TensorBufferPool
{
    /// <summary>Arrays smaller than this (bytes) are not pooled.</summary>
    public const int MinPooledBytes = 64 * 1024;

    private const int MaxFreePerSize = 4;
    // Byte buffers round up to this, so frames whose length moves by a few bytes share a size.
    private const int ByteGranule = 64 * 1024;

    private static readonly object Gate = new();
    private static readonly Dictionary<(Type, int), Stack<Array>> Free = [];
    // Weak: an array that is rented and never handed back is collected as usual.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Array, object> Rented = new();
    private static readonly object Mark = new();

    /// <summary>An array of exactly <paramref name="length"/> elements, contents undefined.</summary>
    public static T[] Rent<T>(int length) where T : unmanaged
    {
        if (!IsPooled<T>(length)) return length == 0 ? [] : GC.AllocateUninitializedArray<T>(length);
        lock (Gate)
        {
            var array = Free.TryGetValue((typeof(T), length), out var stack) && stack.TryPop(out var free)
                ? (T[])free
                : GC.AllocateUninitializedArray<T>(length);
            Rented.AddOrUpdate(array, Mark);
            return array;
        }
    }

    /// <summary>A byte buffer of at least <paramref name="minLength"/> bytes, contents undefined.</summary>
    public static byte[] RentBytes(int minLength) =>
        Rent<byte>(IsPooled<byte>(minLength) ? (int)Math.Min(Array.MaxLength, ((long)minLength + ByteGranule - 1) / ByteGranule * ByteGranule) : minLength);

    /// <summary>
    /// Hands an array back once nothing reads or writes it any more. Arrays not rented here, or
    /// already returned, are ignored, so any holder of a message may call it.
    /// </summary>
    public static void Return<T>(T[]? array) where T : unmanaged
    {
        if (array is null || !IsPooled<T>(array.Length)) return;
        lock (Gate)
        {
            if (!Rented.Remove(array)) return;
            var key = (typeof(T), array.Length);
            if (!Free.TryGetValue(key, out var stack)) Free[key] = stack = new Stack<Array>();
            if (stack.Count < MaxFreePerSize) stack.Push(array);
        }
    }

    private static bool IsPooled<T>(int length) where T : unmanaged =>
        (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() >= MinPooledBytes;
}
