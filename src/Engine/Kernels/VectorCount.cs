namespace Distributed.Engine.Kernels;

/// <summary>
/// A compile-time count of <c>Vector256</c> registers (1 to 4) for kernels generic over how many
/// accumulators they keep: the JIT specialises each instantiation and drops the unused ones.
/// </summary>
internal interface IVectorCount
{
    /// <summary>The number of vectors.</summary>
    static abstract int V { get; }
}

internal readonly struct V1 : IVectorCount { public static int V => 1; }
internal readonly struct V2 : IVectorCount { public static int V => 2; }
internal readonly struct V3 : IVectorCount { public static int V => 3; }
internal readonly struct V4 : IVectorCount { public static int V => 4; }
