using Distributed.Engine.Data;

namespace Distributed.Engine.Tests;

/// <summary>The committed Fashion-MNIST slice (2,000 train / 500 test), loaded once per test run.</summary>
internal static class TestData
{
    private static readonly Lazy<FashionMnistData> Slice = new(() => FashionMnist.Load(SliceDirectory));

    public static string SliceDirectory => Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-slice");

    public static Dataset Train => Slice.Value.Train;

    public static Dataset Test => Slice.Value.Test;
}
