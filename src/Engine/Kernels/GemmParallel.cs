using System.Runtime.ExceptionServices;

namespace Distributed.Engine.Kernels;

/// <summary>
/// A tiny static worker pool for <see cref="Gemm"/>'s threaded overload. A product is cut into a fixed
/// partition of whole MR-row (or NR-column) tiles, part 0 runs on the caller and parts 1.. on
/// dedicated background threads; nothing is split along k, so the result equals the serial one bit
/// for bit. One threaded product runs at a time; a concurrent caller simply computes serially (same
/// result). Steady state allocates nothing: workers are created once and woken through events.
/// </summary>
internal static unsafe class GemmParallel
{
    private static readonly object s_gate = new();
    private static readonly ManualResetEventSlim s_done = new(false);
    private static Worker[] s_workers = [];

    // The job in flight; written by the caller before waking the workers (the event is the barrier).
    private static GemmOperands s_job;
    private static bool s_splitRows;
    private static int s_tile, s_tiles, s_parts, s_pending;
    private static Exception? s_error;

    /// <summary>Computes the whole product of <paramref name="g"/> (k &gt; 0) on up to <paramref name="threads"/> threads.</summary>
    public static void Run(in GemmOperands g, int threads)
    {
        int mr = Gemm.TileRows, nr = Gemm.TileColumns;
        int rowTiles = (g.M + mr - 1) / mr, colTiles = (g.N + nr - 1) / nr;
        // Split the dimension with more tiles: each part packs the other operand whole, so the
        // split that leaves more tiles per part wastes the least duplicated packing.
        bool splitRows = rowTiles >= colTiles;
        int tiles = splitRows ? rowTiles : colTiles;
        int parts = Math.Min(threads, tiles);
        if (parts <= 1 || !Monitor.TryEnter(s_gate))
        {
            Gemm.RunSerial(in g, 0, g.M, 0, g.N);
            return;
        }
        try
        {
            EnsureWorkers(parts - 1);
            s_job = g;
            s_splitRows = splitRows;
            s_tile = splitRows ? mr : nr;
            s_tiles = tiles;
            s_parts = parts;
            s_error = null;
            s_pending = parts - 1;
            s_done.Reset();
            for (int w = 0; w < parts - 1; w++) s_workers[w].Start(w + 1);
            try
            {
                RunPart(0);
            }
            finally
            {
                s_done.Wait();
            }
            if (s_error is { } error) ExceptionDispatchInfo.Throw(error);
        }
        finally
        {
            Monitor.Exit(s_gate);
        }
    }

    private static void RunPart(int part)
    {
        int t0 = (int)((long)s_tiles * part / s_parts);
        int t1 = (int)((long)s_tiles * (part + 1) / s_parts);
        ref readonly GemmOperands g = ref s_job;
        if (s_splitRows)
        {
            Gemm.RunSerial(in g, t0 * s_tile, Math.Min(t1 * s_tile, g.M), 0, g.N);
        }
        else
        {
            Gemm.RunSerial(in g, 0, g.M, t0 * s_tile, Math.Min(t1 * s_tile, g.N));
        }
    }

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
            var thread = new Thread(Loop) { IsBackground = true, Name = $"gemm-worker-{index}" };
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
                try
                {
                    RunPart(_part);
                }
                catch (Exception e)
                {
                    s_error = e;
                }
                finally
                {
                    if (Interlocked.Decrement(ref s_pending) == 0) s_done.Set();
                }
            }
        }
    }
}
