using Distributed.Engine.Randomness;

namespace Distributed.Engine.Training;

/// <summary>
/// The order in which an epoch visits the training samples: a permutation that depends only
/// on the seed and the epoch, so every node (and a resumed run) derives the same batches.
/// </summary>
public static class EpochOrder
{
    /// <summary>Fills <paramref name="order"/> with 0..n−1, shuffled for (seed, epoch) when <paramref name="shuffle"/>.</summary>
    public static void Fill(Span<int> order, ulong seed, int epoch, bool shuffle)
    {
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (!shuffle) return;
        var rng = new SplitMix64(CounterRandom.Hash(seed, 0x73687566UL, (ulong)epoch));
        rng.Shuffle(order);
    }

    /// <summary>Iterations in an epoch of <paramref name="samples"/>: ⌈samples / batch⌉ (48,000 at batch 100 → 480).</summary>
    public static int Iterations(int samples, int batchSize) => (samples + batchSize - 1) / batchSize;
}
