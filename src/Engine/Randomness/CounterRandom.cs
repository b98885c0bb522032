namespace Distributed.Engine.Randomness;

/// <summary>
/// Counter-based random numbers: a value is a pure function of (seed, stream, counter), so
/// initial weights and dropout masks do not depend on thread count, worker or call order.
/// The mixer is SplitMix64's finaliser, applied once per input word.
/// </summary>
public static class CounterRandom
{
    /// <summary>A 64-bit hash of the four words.</summary>
    public static ulong Hash(ulong seed, ulong stream, ulong a, ulong b = 0)
    {
        ulong h = Mix(seed + 0x9E3779B97F4A7C15UL);
        h = Mix(h ^ (stream * 0xD1B54A32D192ED03UL));
        h = Mix(h ^ (a * 0xAEF17502108EF2D9UL));
        return Mix(h ^ (b * 0xF1357AEA2E62A9C5UL));
    }

    /// <summary>A float32 uniform in [0, 1) with 24 random bits.</summary>
    public static float Uniform(ulong seed, ulong stream, ulong a, ulong b = 0) =>
        (Hash(seed, stream, a, b) >> 40) * (1.0f / 16777216.0f);

    /// <summary>SplitMix64's finaliser.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
