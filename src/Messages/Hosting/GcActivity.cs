namespace Distributed.Messages.Hosting;

/// <summary>
/// The garbage collector's work since the last look: gen-2 collections and pause time. Per-iteration
/// profiles report it so that a steady state that allocates large arrays again shows at once.
/// </summary>
public sealed class GcActivity
{
    private int _gen2 = GC.CollectionCount(2);
    private TimeSpan _pause = GC.GetTotalPauseDuration();

    /// <summary>Gen-2 collections and total pause (ms) since the previous call (or construction).</summary>
    public (int Gen2Collections, double PauseMilliseconds) TakeSinceLast()
    {
        int gen2 = GC.CollectionCount(2);
        var pause = GC.GetTotalPauseDuration();
        var result = (gen2 - _gen2, (pause - _pause).TotalMilliseconds);
        _gen2 = gen2;
        _pause = pause;
        return result;
    }
}
