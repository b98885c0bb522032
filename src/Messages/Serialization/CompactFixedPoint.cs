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
    /// <summary>Splits <paramref name="values"/> into 32-bit values and the exceptions that do not fit.</summary>
    public static (int[] Low, int[] ExceptionIndices, long[] ExceptionValues) Split(ReadOnlySpan<long> values)
    {
        var low = GC.AllocateUninitializedArray<int>(values.Length);
        List<int>? indices = null;
        List<long>? exceptions = null;
        for (int i = 0; i < values.Length; i++)
        {
            long v = values[i];
            if (v > int.MinValue && v <= int.MaxValue)
            {
                low[i] = (int)v;
                continue;
            }
            low[i] = int.MinValue;
            (indices ??= []).Add(i);
            (exceptions ??= []).Add(v);
        }
        return (low, indices?.ToArray() ?? [], exceptions?.ToArray() ?? []);
    }

    /// <summary>
    /// Rebuilds the int64 vector, checking that the exception list is consistent: as many indices as
    /// values, strictly increasing, in range, on slots that hold the marker, each with a value that
    /// needed the exception. Anything else is a <see cref="SerializationException"/>.
    /// </summary>
    public static long[] Join(int[] low, int[] exceptionIndices, long[] exceptionValues)
    {
        if (exceptionIndices.Length != exceptionValues.Length)
            throw new SerializationException($"fixed-point gradient: {exceptionIndices.Length} exception indices but {exceptionValues.Length} values");
        var values = GC.AllocateUninitializedArray<long>(low.Length);
        int next = 0, previous = -1;
        for (int i = 0; i < low.Length; i++)
        {
            int v = low[i];
            if (v != int.MinValue)
            {
                values[i] = v;
                continue;
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
        if (next != exceptionIndices.Length)
            throw new SerializationException($"fixed-point gradient: exception index {exceptionIndices[next]} does not point at a marked slot after {previous}");
        return values;
    }
}
