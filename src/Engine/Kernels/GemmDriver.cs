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
}

/// <summary>
/// The GotoBLAS/BLIS loop nest around one micro-kernel. Loops, outermost first:
/// jc (NC columns of C) → pc (KC-deep slice of k; packs B[pc:pc+kc, jc:jc+nc]) →
/// ic (MC rows; packs A[ic:ic+mc, pc:pc+kc]) → jr (NR-wide B sliver) → ir (MR-tall A sliver) → kernel.
/// Every element of C is computed by the same sequence of operations whatever the sub-range
/// [m0,m1)×[n0,n1) handed in, so splitting m or n across threads gives bitwise identical results.
/// </summary>
internal static unsafe class GemmDriver<TKernel> where TKernel : struct, IGemmKernel
{
    // Cache blocking (tuned on Zen 4: 32 KiB L1d and 1 MiB L2 per core, 32 MiB shared L3; the same
    // ratios suit any recent x64 core):
    // KC — depth of a packed slice. In the inner ir loop one packed B sliver (KC×NR floats) is
    //      reused by every A sliver, so it must stay in L1: 256×32×4 B = 32 KiB would fill it, so for
    //      NR = 32 we take KC = 128 (16 KiB, half of L1, leaving room for the streaming A sliver and C).
    //      Narrower kernels afford a deeper KC, which amortises the C load/store per tile better.
    private static readonly int KC = int.Parse(Environment.GetEnvironmentVariable("GKC") ?? "128");

    // MC — rows of the packed A block (MC×KC). It is re-read once per B sliver (nc/NR times), so it
    //      lives in L2: MC×KC×4 B ≈ 300-400 KiB, about a third of a 1 MiB L2 (rounded to a multiple of MR).
    private static readonly int MC = int.Parse(Environment.GetEnvironmentVariable("GMC") ?? "768") / TKernel.MR * TKernel.MR;

    // NC — columns of the packed B panel (KC×NC). Each panel is reused for all m rows, so it lives in
    //      L3: 128×3072×4 B = 1.5 MiB, a small share of a shared L3 even with every core busy.
    private static readonly bool SkipPack = Environment.GetEnvironmentVariable("GSKIPP") == "1";
    private static readonly bool SkipKernel = Environment.GetEnvironmentVariable("GSKIPK") == "1";
    private static readonly bool Swap = Environment.GetEnvironmentVariable("GSWAP") == "1";
    private static readonly int NC = int.Parse(Environment.GetEnvironmentVariable("GNC") ?? "3072");

    /// <summary>MR×NR floats: the tile buffer that absorbs right-edge tiles.</summary>
    public static int TileFloats => TKernel.MR * TKernel.NR;

    /// <summary>C[m0:m1, n0:n1] (+)= op(A)[m0:m1, :] · op(B)[:, n0:n1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(in GemmOperands g, int m0, int m1, int n0, int n1)
    {
        int mr = TKernel.MR, nr = TKernel.NR, kcMax = KC, mcMax = MC;
        int k = g.K;
        GemmBuffers buffers = GemmBuffers.Current;
        int ncMax = Math.Min(NC, RoundUp(n1 - n0, nr));
        float* bp = buffers.PanelB((nuint)Math.Min(kcMax, k) * (nuint)ncMax + GemmPacking.Slack);
        float* ap = buffers.BlockA((nuint)Math.Min(kcMax, k) * (nuint)Math.Min(mcMax, RoundUp(m1 - m0, mr)) + GemmPacking.Slack);
        float* tile = buffers.Tile((nuint)TileFloats);
        nint ldc = g.Ldc;

        for (int jc = n0; jc < n1; jc += NC)
        {
            int nc = Math.Min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                bool load = g.Accumulate || pc > 0;
                if (!SkipPack) PackB(in g, bp, pc, kc, jc, nc);
                for (int ic = m0; ic < m1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m1 - ic);
                    if (!SkipPack) PackA(in g, ap, ic, mc, pc, kc);
                    if (SkipKernel) continue;
                    if (Swap)
                    {
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int h = Math.Min(mr, mc - ir);
                            float* asl = ap + (nint)ir * kc;
                            for (int jr = 0; jr < nc; jr += nr)
                            {
                                int w = Math.Min(nr, nc - jr);
                                float* bs = bp + (nint)jr * kc;
                                float* ct = g.C + (ic + ir) * ldc + jc + jr;
                                if (w == nr) TKernel.Run(kc, asl, bs, ct, ldc, h, load);
                                else { TKernel.Run(kc, asl, bs, tile, nr, h, load: false); WriteEdge(tile, ct, ldc, h, w, load); }
                            }
                        }
                        continue;
                    }
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int w = Math.Min(nr, nc - jr);
                        float* bs = bp + (nint)jr * kc;
                        float* cs = g.C + ic * ldc + jc + jr;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int h = Math.Min(mr, mc - ir);
                            float* asl = ap + (nint)ir * kc;
                            float* ct = cs + ir * ldc;
                            if (w == nr)
                            {
                                TKernel.Run(kc, asl, bs, ct, ldc, h, load);
                            }
                            else
                            {
                                TKernel.Run(kc, asl, bs, tile, nr, h, load: false);
                                WriteEdge(tile, ct, ldc, h, w, load);
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
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int w = Math.Min(nr, nc - j0);
            float* dst = bp + (nint)j0 * kc;
            if (!g.TransB)
            {
                // B(p, j) = b[p*ldb + j]: each step is a contiguous row segment.
                float* src = g.B + pc * ldb + jc + j0;
                if (w == nr)
                {
                    for (int p = 0; p < kc; p++) TKernel.CopyRow(src + p * ldb, dst + (nint)p * nr);
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = src + p * ldb;
                        float* d = dst + (nint)p * nr;
                        int j = 0;
                        for (; j < w; j++) d[j] = s[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
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

    // Packs op(A)[ic:ic+mc, pc:pc+kc] into MR-tall slivers: sliver s holds, for p = 0..kc-1, the MR
    // floats op(A)[ic+s·MR .. ic+s·MR+MR-1, pc+p], zero-padded past row mc.
    private static void PackA(in GemmOperands g, float* ap, int ic, int mc, int pc, int kc)
    {
        int mr = TKernel.MR;
        nint lda = g.Lda;
        for (int i0 = 0; i0 < mc; i0 += mr)
        {
            int h = Math.Min(mr, mc - i0);
            float* dst = ap + (nint)i0 * kc;
            if (g.TransA)
            {
                // A(i, p) = a[p*lda + i]: each step is a contiguous segment of h floats.
                float* src = g.A + pc * lda + ic + i0;
                if (h == mr)
                {
                    for (int p = 0; p < kc; p++) TKernel.CopyColumn(src + p * lda, dst + (nint)p * mr);
                    continue;
                }
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
                float* src = g.A + (ic + i0) * lda + pc;
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

    private float* _a, _b, _tile;
    private nuint _aFloats, _bFloats, _tileFloats;

    /// <summary>The calling thread's buffers.</summary>
    public static GemmBuffers Current => t_current ??= new GemmBuffers();

    /// <summary>At least <paramref name="floats"/> floats for the packed A block.</summary>
    public float* BlockA(nuint floats) => Ensure(ref _a, ref _aFloats, floats);

    /// <summary>At least <paramref name="floats"/> floats for the packed B panel.</summary>
    public float* PanelB(nuint floats) => Ensure(ref _b, ref _bFloats, floats);

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
    }
}
