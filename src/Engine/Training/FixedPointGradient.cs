using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Distributed.Engine.Training;

/// <summary>
/// Exact, order-independent gradient sums. Each micro-shard's float32 gradient sum is rounded to
/// a multiple of 2⁻³² and accumulated in 64-bit integers; integer addition is associative, so
/// the total is the same whichever worker summed which micro-shards and in which grouping —
/// a distributed run repeats bit for bit whatever the shard boundaries were.
/// A value that is not finite or too large for the format (|g| ≥ 2²⁴ in one micro-shard) is
/// stored as <see cref="Invalid"/>, which the parameter server rejects; with at most
/// <see cref="MaxMicroShards"/> micro-shards per batch the 64-bit sum cannot overflow.
/// </summary>
public static class FixedPointGradient
{
    /// <summary>Fraction bits: the resolution is 2⁻³² ≈ 2.3e-10.</summary>
    public const int FractionBits = 32;

    /// <summary>Largest magnitude one micro-shard's gradient sum may have.</summary>
    public const float Limit = 16777216f;

    /// <summary>Most micro-shards a global batch may be split into (2⁵⁶ · 128 &lt; 2⁶³).</summary>
    public const int MaxMicroShards = 128;

    /// <summary>The marker of a non-finite or out-of-range value.</summary>
    public const long Invalid = long.MinValue;

    private const double Scale = 4294967296.0;          // 2^32
    private const double InverseScale = 1.0 / 4294967296.0;

    /// <summary>acc += round(g · 2³²) element-wise; returns false if any value was invalid (and marks it).</summary>
    public static bool Accumulate(ReadOnlySpan<float> gradient, Span<long> accumulator)
    {
        if (gradient.Length != accumulator.Length) throw new ArgumentException("length mismatch");
        int i = 0;
        bool ok = true;
        if (Vector512.IsHardwareAccelerated)
        {
            // 16 floats → two vectors of 8 doubles → exact products with 2³² → round half to even → int64.
            var limit = Vector512.Create(Limit);
            var scale = Vector512.Create(Scale);
            ref float g0 = ref MemoryMarshal.GetReference(gradient);
            ref long a0 = ref MemoryMarshal.GetReference(accumulator);
            for (; i <= gradient.Length - 16; i += 16)
            {
                var g = Vector512.LoadUnsafe(ref g0, (nuint)i);
                if (!Vector512.LessThanAll(Vector512.Abs(g), limit)) { ok &= AccumulateScalar(gradient.Slice(i, 16), accumulator.Slice(i, 16)); continue; }
                var (lo, hi) = Vector512.Widen(g);
                var acc0 = Vector512.LoadUnsafe(ref a0, (nuint)i);
                var acc1 = Vector512.LoadUnsafe(ref a0, (nuint)(i + 8));
                if (Vector512.EqualsAny(acc0, Vector512.Create(Invalid)) || Vector512.EqualsAny(acc1, Vector512.Create(Invalid)))
                {
                    ok &= AccumulateScalar(gradient.Slice(i, 16), accumulator.Slice(i, 16));
                    continue;
                }
                (acc0 + Vector512.ConvertToInt64(Vector512.Round(lo * scale))).StoreUnsafe(ref a0, (nuint)i);
                (acc1 + Vector512.ConvertToInt64(Vector512.Round(hi * scale))).StoreUnsafe(ref a0, (nuint)(i + 8));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            // AVX2 has no double → int64 conversion: for |g| < 2¹⁹ (so |g · 2³²| < 2⁵¹) adding 1.5 · 2⁵² rounds
            // to an integer, half to even as Math.Round does, and the integer is the difference of the bits.
            var fast = Vector256.Create(FastLimit);
            var scale = Vector256.Create(Scale);
            var magic = Vector256.Create(Magic);
            var magicBits = Vector256.Create(MagicBits);
            var invalid = Vector256.Create(Invalid);
            ref float g0 = ref MemoryMarshal.GetReference(gradient);
            ref long a0 = ref MemoryMarshal.GetReference(accumulator);
            for (; i <= gradient.Length - 8; i += 8)
            {
                var g = Vector256.LoadUnsafe(ref g0, (nuint)i);
                var acc0 = Vector256.LoadUnsafe(ref a0, (nuint)i);
                var acc1 = Vector256.LoadUnsafe(ref a0, (nuint)(i + 4));
                if (!Vector256.LessThanAll(Vector256.Abs(g), fast) || Vector256.EqualsAny(acc0, invalid) || Vector256.EqualsAny(acc1, invalid))
                {
                    ok &= AccumulateScalar(gradient.Slice(i, 8), accumulator.Slice(i, 8));
                    continue;
                }
                var (lo, hi) = Vector256.Widen(g);
                (acc0 + ((lo * scale + magic).AsInt64() - magicBits)).StoreUnsafe(ref a0, (nuint)i);
                (acc1 + ((hi * scale + magic).AsInt64() - magicBits)).StoreUnsafe(ref a0, (nuint)(i + 4));
            }
        }
        return AccumulateScalar(gradient[i..], accumulator[i..]) && ok;
    }

    // Below this magnitude g · 2³² + Magic is exact to the integer (see the AVX2 path).
    private const float FastLimit = 524288f; // 2^19
    private const double Magic = 6755399441055744.0; // 1.5 · 2^52
    private const long MagicBits = 0x4338000000000000; // its IEEE-754 bits

    private static bool AccumulateScalar(ReadOnlySpan<float> gradient, Span<long> accumulator)
    {
        bool ok = true;
        for (int i = 0; i < gradient.Length; i++)
        {
            float g = gradient[i];
            if (!(MathF.Abs(g) < Limit) || accumulator[i] == Invalid)
            {
                accumulator[i] = Invalid;
                ok = false;
                continue;
            }
            accumulator[i] += ToFixed(g);
        }
        return ok;
    }

    /// <summary>sum += other element-wise (exact); false if either holds an invalid value.</summary>
    public static bool Add(ReadOnlySpan<long> other, Span<long> sum)
    {
        if (other.Length != sum.Length) throw new ArgumentException("length mismatch");
        bool ok = true;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var invalid = Vector256.Create(Invalid);
            ref long o0 = ref MemoryMarshal.GetReference(other);
            ref long s0 = ref MemoryMarshal.GetReference(sum);
            for (; i <= sum.Length - 4; i += 4)
            {
                var a = Vector256.LoadUnsafe(ref o0, (nuint)i);
                var b = Vector256.LoadUnsafe(ref s0, (nuint)i);
                if (Vector256.EqualsAny(a, invalid) || Vector256.EqualsAny(b, invalid))
                {
                    ok &= AddScalar(other.Slice(i, 4), sum.Slice(i, 4));
                    continue;
                }
                (a + b).StoreUnsafe(ref s0, (nuint)i);
            }
        }
        return AddScalar(other[i..], sum[i..]) && ok;
    }

    private static bool AddScalar(ReadOnlySpan<long> other, Span<long> sum)
    {
        bool ok = true;
        for (int i = 0; i < sum.Length; i++)
        {
            if (other[i] == Invalid || sum[i] == Invalid) { sum[i] = Invalid; ok = false; continue; }
            sum[i] += other[i];
        }
        return ok;
    }

    /// <summary>True if no element is the invalid marker.</summary>
    public static bool IsValid(ReadOnlySpan<long> values) => !values.Contains(Invalid);

    /// <summary>destination = sum · 2⁻³² as float32.</summary>
    public static void ToFloat(ReadOnlySpan<long> sum, Span<float> destination)
    {
        if (sum.Length != destination.Length) throw new ArgumentException("length mismatch");
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // int64 → double without AVX-512: below 2⁵¹ in magnitude, adding the bits of 1.5 · 2⁵² and
            // subtracting it again as a double is exact; the narrowing to float rounds as the cast does.
            var limit = Vector256.Create(1L << 51);
            var magic = Vector256.Create(Magic);
            var magicBits = Vector256.Create(MagicBits);
            var inverse = Vector256.Create(InverseScale);
            ref long s0 = ref MemoryMarshal.GetReference(sum);
            ref float d0 = ref MemoryMarshal.GetReference(destination);
            for (; i <= sum.Length - 8; i += 8)
            {
                var a = Vector256.LoadUnsafe(ref s0, (nuint)i);
                var b = Vector256.LoadUnsafe(ref s0, (nuint)(i + 4));
                // A range test, not Abs: |long.MinValue| overflows to itself.
                if (!(Vector256.LessThanAll(a, limit) && Vector256.GreaterThanAll(a, -limit) && Vector256.LessThanAll(b, limit) && Vector256.GreaterThanAll(b, -limit)))
                {
                    for (int j = i; j < i + 8; j++) destination[j] = (float)(sum[j] * InverseScale);
                    continue;
                }
                var da = ((a + magicBits).AsDouble() - magic) * inverse;
                var db = ((b + magicBits).AsDouble() - magic) * inverse;
                Vector256.Narrow(da, db).StoreUnsafe(ref d0, (nuint)i);
            }
        }
        for (; i < sum.Length; i++) destination[i] = (float)(sum[i] * InverseScale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long ToFixed(float g) => (long)Math.Round(g * Scale, MidpointRounding.ToEven);
}
