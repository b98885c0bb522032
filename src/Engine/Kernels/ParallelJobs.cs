using System.Runtime.ExceptionServices;

namespace Distributed.Engine.Kernels;

/// <summary>A job cut into a fixed number of independent parts (see <see cref="ParallelJobs"/>).</summary>
internal interface IParallelJob
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="parts"/>; parts must not write to the same memory.</summary>
    void RunPart(int part, int parts);
}

/// <summary>
/// The engine's tiny static worker pool. A job's parts are fixed by the caller (never by the pool),
/// part 0 runs on the caller and parts 1.. on dedicated background threads, so a result that is
/// bitwise independent of the partition stays so for any thread count. One job runs at a time; a
/// caller that finds the pool busy (another model, or a job part asking for more threads) runs all
/// the parts itself, in order. Steady state allocates nothing: workers are created once and woken
/// through events.
/// </summary>
internal static class ParallelJobs
{
    // The caller waits for the last part on this monitor. Not a ManualResetEventSlim: that allocates its
    // lock object the first time a wait has to block, which may be in the middle of a steady state.
    private static readonly object s_done = new();
    private static Worker[] s_workers = [];
    private static int s_busy;

    // The job in flight; written by the caller before waking the workers (the event is the barrier).
    private static IParallelJob? s_job;
    private static int s_parts, s_pending;
    private static Exception? s_error;
    private static long s_workerAllocated;

    /// <summary>Managed bytes allocated on the pool's own threads while running parts, since process start (for allocation tests).</summary>
    public static long WorkerAllocatedBytes => Interlocked.Read(ref s_workerAllocated);

    /// <summary>Runs every part of <paramref name="job"/>, on up to <paramref name="parts"/> threads; returns when all are done.</summary>
    public static void Run(IParallelJob job, int parts)
    {
        if (parts <= 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int p = 0; p < parts; p++) job.RunPart(p, parts);
            return;
        }
        try
        {
            EnsureWorkers(parts - 1);
            s_job = job;
            s_parts = parts;
            s_error = null;
            Volatile.Write(ref s_pending, parts - 1);
            for (int w = 0; w < parts - 1; w++) s_workers[w].Start(w + 1);
            try
            {
                job.RunPart(0, parts);
            }
            finally
            {
                WaitForParts();
                s_job = null;
            }
            if (s_error is { } error) ExceptionDispatchInfo.Throw(error);
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
    }

    // Spins briefly (parts are often short), then sleeps on the monitor until the last part pulses it.
    private static void WaitForParts()
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref s_pending) > 0 && !spin.NextSpinWillYield) spin.SpinOnce();
        if (Volatile.Read(ref s_pending) == 0) return;
        lock (s_done)
        {
            while (Volatile.Read(ref s_pending) > 0) Monitor.Wait(s_done);
        }
    }

    /// <summary>The first index of part <paramref name="part"/> when <paramref name="count"/> items are cut into <paramref name="parts"/> near-equal runs.</summary>
    public static int Start(int count, int part, int parts) => (int)((long)count * part / parts);

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        var grown = new Worker[count];
        Array.Copy(s_workers, grown, s_workers.Length);
        for (int i = s_workers.Length; i < count; i++) grown[i] = new Worker(i);
        s_workers = grown;
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim _go = new(false);
        private int _part;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"engine-worker-{index}" };
            thread.Start();
        }

        public void Start(int part)
        {
            _part = part;
            _go.Set();
        }

        private void Loop()
        {
            while (true)
            {
                _go.Wait();
                _go.Reset();
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    s_job!.RunPart(_part, s_parts);
                }
                catch (Exception e)
                {
                    s_error = e;
                }
                finally
                {
                    Interlocked.Add(ref s_workerAllocated, GC.GetAllocatedBytesForCurrentThread() - before);
                    if (Interlocked.Decrement(ref s_pending) == 0)
                        lock (s_done) Monitor.PulseAll(s_done);
                }
            }
        }
    }
}
