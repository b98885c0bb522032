using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Serialization;

namespace Distributed.Messages.Serialization;

/// <summary>
/// A lossless, smaller wire form for fixed-point gradient sums. Almost every value of a
/// micro-shard gradient sum (scaled by 2³²) fits in 32 bits, so the int64 vector travels as an
/// int32 vector plus a sorted list of exceptions (index, int64 value); the exception slots hold
/// <see cref="int.MinValue"/>. Halves the bytes of the largest message of an iteration.
/// </summary>
public static class CompactFixedPoint
{
    /// <summary>
    /// Rebuilds the int64 vector, checking that the exception list is consistent: as many indices as
    /// values, strictly increasing, in range, on slots that hold the marker, each with a value that
    /// needed the exception. Anything else is a <see cref="SerializationException"/>.
    /// </summary>
    public static long[] Join(int[] low, int[] exceptionIndices, long[] exceptionValues) =>
        Join(low, exceptionIndices, exceptionValues, GC.AllocateUninitializedArray<long>(low.Length));

    /// <summary>
    /// <see cref="Join(int[], int[], long[])"/> into <paramref name="destination"/> (of the same length as
    /// <paramref name="low"/>), which it returns.
    /// </summary>
    public static long[] Join(ReadOnlySpan<int> low, int[] exceptionIndices, long[] exceptionValues, long[] destination)
    {
        if (exceptionIndices.Length != exceptionValues.Length)
            throw new SerializationException($"fixed-point gradient: {exceptionIndices.Length} exception indices but {exceptionValues.Length} values");
        if (destination.Length != low.Length) throw new ArgumentException("destination length differs", nameof(destination));
        int next = 0, previous = -1, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref int l0 = ref MemoryMarshal.GetReference(low);
            ref long v0 = ref MemoryMarshal.GetArrayDataReference(destination);
            var marker = Vector256.Create(int.MinValue);
            for (; i <= low.Length - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref l0, (nuint)i);
                if (Vector256.EqualsAny(v, marker))
                {
                    for (int j = i; j < i + 8; j++) JoinOne(low, j, exceptionIndices, exceptionValues, destination, ref next, ref previous);
                    continue;
                }
                var (a, b) = Vector256.Widen(v);
                a.StoreUnsafe(ref v0, (nuint)i);
                b.StoreUnsafe(ref v0, (nuint)(i + 4));
            }
        }
        for (; i < low.Length; i++) JoinOne(low, i, exceptionIndices, exceptionValues, destination, ref next, ref previous);
        if (next != exceptionIndices.Length)
            throw new SerializationException($"fixed-point gradient: exception index {exceptionIndices[next]} does not point at a marked slot after {previous}");
        return destination;
    }

    private static void JoinOne(ReadOnlySpan<int> low, int i, int[] exceptionIndices, long[] exceptionValues, long[] values, ref int next, ref int previous)
    {
        int v = low[i];
        if (v != int.MinValue)
        {
            values[i] = v;
            return;
        }
        if (next >= exceptionIndices.Length || exceptionIndices[next] != i)
            throw new SerializationException($"fixed-point gradient: slot {i} is marked but has no exception");
        long e = exceptionValues[next];
        if (e > int.MinValue && e <= int.MaxValue)
            throw new SerializationException($"fixed-point gradient: exception at {i} holds {e}, which fits in 32 bits");
        values[i] = e;
        previous = i;
        next++;
    }

    /// <summary>The values of <paramref name="values"/> that do not fit in 32 bits, and where they are (ascending).</summary>
    public static (int[] Indices, long[] Values) Exceptions(ReadOnlySpan<long> values)
    {
        List<int>? indices = null;
        List<long>? exceptions = null;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref long v0 = ref MemoryMarshal.GetReference(values);
            var min = Vector256.Create((long)int.MinValue);
            var max = Vector256.Create((long)int.MaxValue);
            for (; i <= values.Length - 4; i += 4)
            {
                var v = Vector256.LoadUnsafe(ref v0, (nuint)i);
                if (Vector256.GreaterThanAll(v, min) && Vector256.LessThanOrEqualAll(v, max)) continue;
                for (int j = i; j < i + 4; j++) Collect(values, j, ref indices, ref exceptions);
            }
        }
        for (; i < values.Length; i++) Collect(values, i, ref indices, ref exceptions);
        return (indices?.ToArray() ?? [], exceptions?.ToArray() ?? []);
    }

    private static void Collect(ReadOnlySpan<long> values, int i, ref List<int>? indices, ref List<long>? exceptions)
    {
        if (Fits(values[i])) return;
        (indices ??= []).Add(i);
        (exceptions ??= []).Add(values[i]);
    }

    /// <summary>
    /// Writes the 32-bit part of every value into <paramref name="low"/> (same length): the value where
    /// it fits, <see cref="int.MinValue"/> (the exception marker) where it does not.
    /// </summary>
    public static void WriteLow(ReadOnlySpan<long> values, Span<int> low)
    {
        if (low.Length != values.Length) throw new ArgumentException("length mismatch", nameof(low));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref long v0 = ref MemoryMarshal.GetReference(values);
            ref int l0 = ref MemoryMarshal.GetReference(low);
            var min = Vector256.Create((long)int.MinValue);
            var max = Vector256.Create((long)int.MaxValue);
            for (; i <= values.Length - 8; i += 8)
            {
                var a = Vector256.LoadUnsafe(ref v0, (nuint)i);
                var b = Vector256.LoadUnsafe(ref v0, (nuint)(i + 4));
                if (!(Vector256.GreaterThanAll(a, min) && Vector256.LessThanOrEqualAll(a, max)
                      && Vector256.GreaterThanAll(b, min) && Vector256.LessThanOrEqualAll(b, max)))
                {
                    for (int j = i; j < i + 8; j++) low[j] = Fits(values[j]) ? (int)values[j] : int.MinValue;
                    continue;
                }
                Vector256.Narrow(a, b).StoreUnsafe(ref l0, (nuint)i);
            }
        }
        for (; i < values.Length; i++) low[i] = Fits(values[i]) ? (int)values[i] : int.MinValue;
    }

    private static bool Fits(long v) => v > int.MinValue && v <= int.MaxValue;
}
