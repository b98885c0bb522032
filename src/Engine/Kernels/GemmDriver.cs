using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Distributed.Engine.Kernels;

/// <summary>The operands of one product as raw pointers; whoever builds it keeps the memory pinned.</summary>
internal readonly unsafe struct GemmOperands(
    bool transA, bool transB, int m, int n, int k,
    float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
{
    public readonly float* A = a, B = b, C = c;
    public readonly nint Lda = lda, Ldb = ldb, Ldc = ldc;
    public readonly int M = m, N = n, K = k;
    public readonly bool TransA = transA, TransB = transB, Accumulate = accumulate;

    /// <summary>
    /// When set, A is not stored: it is the im2col patch matrix of the NHWC samples at <see cref="A"/> (rows = output
    /// pixels, columns = (kh, kw, c)), as stored (pixels × patch) or, with <see cref="TransA"/>, its transpose; each
    /// block is unfolded into a small buffer right before it is packed (see <see cref="Im2Col.FillBlock"/>).
    /// </summary>
    public readonly bool Patches;

    /// <summary>The window geometry of the implicit patch matrix.</summary>
    public readonly ConvGeometry Geometry;

    /// <summary>An implicit-A product: op(A) is the patch matrix of <paramref name="x"/> under <paramref name="geometry"/>.</summary>
    public GemmOperands(bool transA, bool transB, int m, int n, int k, float* x, in ConvGeometry geometry,
        float* b, int ldb, float* c, int ldc, bool accumulate)
        : this(transA, transB, m, n, k, x, transA ? m : k, b, ldb, c, ldc, accumulate)
    {
        Patches = true;
        Geometry = geometry;
    }
}

/// <summary>
/// The GotoBLAS/BLIS loop nest around one micro-kernel. Loops, outermost first:
/// jc (NC columns of C) → pc (KC-deep slice of k; packs op(B)[pc:pc+kc, jc:jc+nc]) →
/// ic (MC rows; packs op(A)[ic:ic+mc, pc:pc+kc]) → ir (MR-tall A sliver) → jr (NR-wide B sliver) → kernel.
/// (ir outside jr — A sliver held in L1, B panel streamed from L2 — measured a few percent faster on
/// Zen 4 than the classic jr-outside-ir order, most for the wide products with small m.)
/// Every element of C is computed by the same sequence of operations whatever the sub-range
/// [m0,m1)×[n0,n1) handed in, so splitting m or n across threads gives bitwise identical results.
/// </summary>
internal static unsafe class GemmDriver<TKernel> where TKernel : struct, IGemmKernel
{
    // Cache blocking, measured on Zen 4 (32 KiB L1d and 1 MiB L2 per core, 32 MiB shared L3) with
    // the 8×32 AVX-512 kernel; the 6×16 AVX2 kernel uses the same byte budgets.
    //
    // KC — depth of the packed slices. The A sliver in use (MR×KC floats: 8×384×4 B = 12 KiB) must
    //      stay in L1 while the jr loop streams B slivers past it; a deep KC amortises the one
    //      load+store of each C tile per slice. 256..512 measured within noise; 384 leaves L1 room
    //      for the streaming B sliver and the C tile.
    private static int KC => TKernel.NR >= 32 ? 384 : 256;

    // MC — rows of the packed A block (MC×KC floats: 128×384×4 B = 192 KiB). Packed just before its
    //      slivers are consumed, so it should stay in L2 next to the streaming B panel; beyond that the
    //      size hardly matters in this loop order (64..336 measured the same). Multiple of MR.
    private static int MC => TKernel.NR >= 32 ? 128 : 120;

    // NC — columns of the packed B panel (KC×NC floats: 384×1024×4 B = 1.5 MiB). Streamed from L2 (and
    //      the L3 behind it) once per A sliver; it must fit the L2+L3 share of one core. 512..2048
    //      measured within noise except 1024³, where 1024 was best. Multiple of NR.
    private const int NC = 1024;

    /// <summary>MR×NR floats: the tile buffer that absorbs right-edge tiles.</summary>
    private static int TileFloats => TKernel.MR * TKernel.NR;

    /// <summary>C[m0:m1, n0:n1] (+)= op(A)[m0:m1, :] · op(B)[:, n0:n1], for k &gt; 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(in GemmOperands g, int m0, int m1, int n0, int n1)
    {
        int mr = TKernel.MR, nr = TKernel.NR, kcMax = KC, mcMax = MC;
        int k = g.K;
        GemmBuffers buffers = GemmBuffers.Current;
        float* bp = buffers.PanelB((nuint)Math.Min(kcMax, k) * (nuint)RoundUp(Math.Min(NC, n1 - n0), nr) + GemmPacking.Slack);
        float* ap = buffers.BlockA((nuint)Math.Min(kcMax, k) * (nuint)RoundUp(Math.Min(mcMax, m1 - m0), mr) + GemmPacking.Slack);
        float* tile = buffers.Tile((nuint)TileFloats);
        // The unfolded block of an implicit patch matrix: at most MC × KC floats, cache-resident.
        float* unfolded = g.Patches ? buffers.Unfolded((nuint)Math.Min(kcMax, k) * (nuint)Math.Min(mcMax, m1 - m0)) : null;
        nint ldc = g.Ldc;

        for (int jc = n0; jc < n1; jc += NC)
        {
            int nc = Math.Min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                // The first slice overwrites C unless accumulating; later slices add to it.
                bool load = g.Accumulate || pc > 0;
                PackB(in g, bp, pc, kc, jc, nc);
                for (int ic = m0; ic < m1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m1 - ic);
                    PackA(in g, ap, unfolded, ic, mc, pc, kc);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int h = Math.Min(mr, mc - ir);
                        float* aSliver = ap + (nint)ir * kc;
                        float* cRow = g.C + (ic + ir) * ldc + jc;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int w = Math.Min(nr, nc - jr);
                            float* bSliver = bp + (nint)jr * kc;
                            if (w == nr)
                            {
                                TKernel.Run(kc, aSliver, bSliver, cRow + jr, ldc, h, load);
                            }
                            else
                            {
                                // Right edge: compute the full tile into the buffer, write back its valid part.
                                TKernel.Run(kc, aSliver, bSliver, tile, nr, h, load: false);
                                WriteEdge(tile, cRow + jr, ldc, h, w, load);
                            }
                        }
                    }
                }
            }
        }
    }

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    // Copies the valid h×w corner of the tile buffer to C with the same `C + acc` as the kernels.
    private static void WriteEdge(float* tile, float* c, nint ldc, int h, int w, bool load)
    {
        int nr = TKernel.NR;
        for (int i = 0; i < h; i++)
        {
            float* src = tile + i * nr;
            float* dst = c + i * ldc;
            if (load)
            {
                for (int j = 0; j < w; j++) dst[j] = dst[j] + src[j];
            }
            else
            {
                for (int j = 0; j < w; j++) dst[j] = src[j];
            }
        }
    }

    // Packs op(B)[pc:pc+kc, jc:jc+nc] into NR-wide slivers: sliver s holds, for p = 0..kc-1, the NR
    // floats op(B)[pc+p, jc+s·NR .. jc+s·NR+NR-1], zero-padded past column nc.
    private static void PackB(in GemmOperands g, float* bp, int pc, int kc, int jc, int nc)
    {
        int nr = TKernel.NR;
        nint ldb = g.Ldb;
        int j0 = 0;
        if (!g.TransB)
        {
            // B(p, j) = b[p*ldb + j]: walk each stored row once, dealing NR-float pieces to the full slivers.
            int full = nc / nr * nr;
            for (int p = 0; p < kc; p++)
            {
                float* src = g.B + (pc + p) * ldb + jc;
                float* dst = bp + (nint)p * nr;
                for (int j = 0; j < full; j += nr) TKernel.CopyRow(src + j, dst + (nint)j * kc);
            }
            j0 = full;
        }
        for (; j0 < nc; j0 += nr)
        {
            int w = Math.Min(nr, nc - j0);
            float* dst = bp + (nint)j0 * kc;
            if (!g.TransB)
            {
                // The narrow last sliver: a row segment of w floats, zero-padded to NR.
                float* src = g.B + pc * ldb + jc + j0;
                for (int p = 0; p < kc; p++)
                {
                    float* s = src + p * ldb;
                    float* d = dst + (nint)p * nr;
                    int j = 0;
                    for (; j < w; j++) d[j] = s[j];
                    for (; j < nr; j++) d[j] = 0f;
                }
            }
            else
            {
                // B(p, j) = b[j*ldb + p]: column j of op(B) is contiguous; scatter it with stride NR.
                float* src = g.B + (jc + j0) * ldb + pc;
                GemmPacking.TransposeInto(src, ldb, dst, nr, w, kc);
            }
        }
    }

    // Packs op(A)[ic:ic+mc, pc:pc+kc] into MR-tall slivers. An implicit patch matrix is first unfolded,
    // that block only, into `unfolded` (as A would be stored there), so both paths pack the same values.
    private static void PackA(in GemmOperands g, float* ap, float* unfolded, int ic, int mc, int pc, int kc)
    {
        if (!g.Patches)
        {
            PackBlock(g.TransA, g.TransA ? g.A + pc * g.Lda + ic : g.A + ic * g.Lda + pc, g.Lda, ap, mc, kc);
        }
        else if (g.TransA)
        {
            // Stored A is pixels × patch: rows pc.., columns ic...
            Im2Col.FillBlock(g.A, in g.Geometry, pc, kc, ic, mc, unfolded, mc);
            PackBlock(true, unfolded, mc, ap, mc, kc);
        }
        else
        {
            Im2Col.FillBlock(g.A, in g.Geometry, ic, mc, pc, kc, unfolded, kc);
            PackBlock(false, unfolded, kc, ap, mc, kc);
        }
    }

    // Packs an mc×kc block of op(A) whose stored origin (element (ic, pc) of op(A)) is `block`, row stride
    // `lda`, into MR-tall slivers: sliver s holds, for p = 0..kc-1, the MR floats of op(A) rows s·MR..s·MR+MR-1
    // at column p, zero-padded past row mc.
    private static void PackBlock(bool transA, float* block, nint lda, float* ap, int mc, int kc)
    {
        int mr = TKernel.MR;
        int i0 = 0;
        if (transA)
        {
            // A(i, p) = a[p*lda + i]: walk each stored row once, dealing MR-float pieces to the full slivers.
            int full = mc / mr * mr;
            for (int p = 0; p < kc; p++)
            {
                float* src = block + p * lda;
                float* dst = ap + (nint)p * mr;
                for (int i = 0; i < full; i += mr) TKernel.CopyColumn(src + i, dst + (nint)i * kc);
            }
            i0 = full;
        }
        for (; i0 < mc; i0 += mr)
        {
            int h = Math.Min(mr, mc - i0);
            float* dst = ap + (nint)i0 * kc;
            if (transA)
            {
                // A(i, p) = a[p*lda + i]: each step is a contiguous segment of h floats.
                float* src = block + i0;
                for (int p = 0; p < kc; p++)
                {
                    float* s = src + p * lda;
                    float* d = dst + (nint)p * mr;
                    int i = 0;
                    for (; i < h; i++) d[i] = s[i];
                    for (; i < mr; i++) d[i] = 0f;
                }
            }
            else
            {
                // A(i, p) = a[i*lda + p]: row i of A is contiguous; scatter it with stride MR.
                float* src = block + i0 * lda;
                GemmPacking.TransposeInto(src, lda, dst, mr, h, kc);
            }
        }
    }
}

/// <summary>
/// One thread's packing buffers, 64-byte aligned native memory allocated on first use and grown
/// only when a larger block is needed, so steady-state products allocate nothing. Freed by the
/// finalizer once the owning thread has died and dropped its [ThreadStatic] reference.
/// </summary>
internal sealed unsafe class GemmBuffers
{
    [ThreadStatic] private static GemmBuffers? t_current;

    private float* _a, _b, _tile, _unfolded;
    private nuint _aFloats, _bFloats, _tileFloats, _unfoldedFloats;

    /// <summary>The calling thread's buffers.</summary>
    public static GemmBuffers Current => t_current ??= new GemmBuffers();

    /// <summary>At least <paramref name="floats"/> floats for the packed A block.</summary>
    public float* BlockA(nuint floats) => Ensure(ref _a, ref _aFloats, floats);

    /// <summary>At least <paramref name="floats"/> floats for the packed B panel.</summary>
    public float* PanelB(nuint floats) => Ensure(ref _b, ref _bFloats, floats);

    /// <summary>At least <paramref name="floats"/> floats for one unfolded block of an implicit patch matrix.</summary>
    public float* Unfolded(nuint floats) => Ensure(ref _unfolded, ref _unfoldedFloats, floats);

    /// <summary>At least <paramref name="floats"/> floats for the edge tile.</summary>
    public float* Tile(nuint floats) => Ensure(ref _tile, ref _tileFloats, floats);

    private static float* Ensure(ref float* buffer, ref nuint capacity, nuint floats)
    {
        if (floats > capacity)
        {
            NativeMemory.AlignedFree(buffer);
            buffer = null;
            capacity = 0;
            nuint grown = Math.Max(floats, 1024);
            buffer = (float*)NativeMemory.AlignedAlloc(grown * sizeof(float), 64);
            capacity = grown;
        }
        return buffer;
    }

    ~GemmBuffers()
    {
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_b);
        NativeMemory.AlignedFree(_tile);
        NativeMemory.AlignedFree(_unfolded);
    }
}
