namespace Distributed.Engine.Kernels;

/// <summary>
/// <see cref="Gemm"/>'s threaded overload: a product is cut into a fixed partition of whole MR-row
/// (or NR-column) tiles and run on <see cref="ParallelJobs"/>; nothing is split along k, so the result
/// equals the serial one bit for bit. Allocation-free: the job object is reused (one per thread that
/// asks, since the pool runs a busy caller's parts on that caller).
/// </summary>
internal sealed unsafe class GemmParallel : IParallelJob
{
    [ThreadStatic] private static GemmParallel? t_job;

    private GemmOperands _g;
    private bool _splitRows;
    private int _tile, _tiles;

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
        if (parts <= 1)
        {
            Gemm.RunSerial(in g, 0, g.M, 0, g.N);
            return;
        }
        var job = t_job ??= new GemmParallel();
        job._g = g;
        job._splitRows = splitRows;
        job._tile = splitRows ? mr : nr;
        job._tiles = tiles;
        ParallelJobs.Run(job, parts);
    }

    /// <inheritdoc/>
    public void RunPart(int part, int parts)
    {
        int t0 = ParallelJobs.Start(_tiles, part, parts), t1 = ParallelJobs.Start(_tiles, part + 1, parts);
        if (_splitRows) Gemm.RunSerial(in _g, t0 * _tile, Math.Min(t1 * _tile, _g.M), 0, _g.N);
        else Gemm.RunSerial(in _g, 0, _g.M, t0 * _tile, Math.Min(t1 * _tile, _g.N));
    }
}
