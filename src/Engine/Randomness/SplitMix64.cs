namespace Distributed.Engine.Randomness;

/// <summary>A small sequential generator (SplitMix64) for shuffles; a struct, so it allocates nothing.</summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return CounterRandom.Mix(_state);
    }

    /// <summary>A uniform integer in [0, bound) without modulo bias.</summary>
    public int NextInt(int bound)
    {
        if (bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound));
        uint threshold = (0u - (uint)bound) % (uint)bound; // Lemire: reject the low values that would bias
        while (true)
        {
            ulong r = Next() >> 32;
            ulong m = r * (uint)bound;
            if ((m & 0xFFFFFFFFUL) >= threshold) return (int)(m >> 32);
        }
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
