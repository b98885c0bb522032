namespace Distributed.Engine.Kernels;

/// <summary>Work that treats each sample of a batch on its own (writes nothing another sample writes).</summary>
internal interface ISampleWork
{
    /// <summary>Processes samples [<paramref name="first"/>, <paramref name="end"/>).</summary>
    void RunSamples(int first, int end);
}

/// <summary>
/// Runs per-sample work over a batch on <see cref="ParallelJobs"/>, contiguous runs of samples per
/// thread. Each sample is computed exactly as it would be alone, so the result does not depend on
/// the thread count. The caller keeps whatever the work reads (pinned memory, fields) alive until it returns.
/// </summary>
internal sealed class SampleParallel : IParallelJob
{
    [ThreadStatic] private static SampleParallel? t_job;

    private ISampleWork _work = null!;
    private int _batch;

    /// <summary>Runs <paramref name="work"/> over <paramref name="batch"/> samples on up to <paramref name="threads"/> threads.</summary>
    public static void Run(ISampleWork work, int batch, int threads)
    {
        var job = t_job ??= new SampleParallel();
        job._work = work;
        job._batch = batch;
        ParallelJobs.Run(job, Math.Clamp(Math.Min(threads, batch), 1, int.MaxValue));
        job._work = null!;
    }

    /// <inheritdoc/>
    public void RunPart(int part, int parts) =>
        _work.RunSamples(ParallelJobs.Start(_batch, part, parts), ParallelJobs.Start(_batch, part + 1, parts));
}
