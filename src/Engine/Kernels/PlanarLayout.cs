namespace Distributed.Engine.Kernels;

/// <summary>
/// Sizes of the zero-padded planar (channel-major) copies that <see cref="PlanarConvKernels"/> works on,
/// for one stride-1 geometry and F filters. All counts are floats. Rows are wide enough that whole
/// vectors can be read past the last output column: the extra columns are zeros.
/// </summary>
internal readonly record struct PlanarLayout
{
    private const int Lanes = 8;

    public PlanarLayout(in ConvGeometry g, int filters)
    {
        Filters = filters;
        OutputVectors = Math.Min(4, (g.OutputWidth + Lanes - 1) / Lanes);
        OutputRow = RoundUp(g.OutputWidth, OutputVectors * Lanes);
        InputRow = OutputRow + g.KernelWidth - 1;
        InputPlane = (g.OutputHeight + g.KernelHeight - 1) * InputRow;
        InputGradientVectors = Math.Min(4, (g.InputWidth + Lanes - 1) / Lanes);
        int inputGradientRow = RoundUp(g.InputWidth, InputGradientVectors * Lanes);
        // Wide enough for the input gradient's reads, and for the kernel gradient's whole output rows.
        PaddedGradientRow = Math.Max(inputGradientRow + g.PadLeft, OutputRow) + g.KernelWidth - 1;
        InputGradientRow = inputGradientRow;
        PaddedGradientPlane = (g.OutputHeight + 2 * (g.KernelHeight - 1)) * PaddedGradientRow;
        Accumulators = filters * g.PatchSize * Lanes;
        ScratchSize = g.Channels * InputPlane + filters * PaddedGradientPlane + Accumulators;
    }

    /// <summary>Filters F.</summary>
    public int Filters { get; }
    /// <summary>Vectors per output-row segment (1 to 4).</summary>
    public int OutputVectors { get; }
    /// <summary>Output row length rounded up to whole segments.</summary>
    public int OutputRow { get; }
    /// <summary>Row stride of the padded input planes: input row r, column q at (r + pad top, q + pad left).</summary>
    public int InputRow { get; }
    /// <summary>One padded input plane: (OH + KH − 1) rows.</summary>
    public int InputPlane { get; }
    /// <summary>Vectors per input-gradient row segment (1 to 4).</summary>
    public int InputGradientVectors { get; }
    /// <summary>Input row length rounded up to whole input-gradient segments.</summary>
    public int InputGradientRow { get; }
    /// <summary>
    /// Row stride of the output-gradient planes, padded by KH − 1 rows and KW − 1 columns before the data and
    /// with room after it for the input gradient's and the kernel gradient's whole-vector reads.
    /// </summary>
    public int PaddedGradientRow { get; }
    /// <summary>One such plane.</summary>
    public int PaddedGradientPlane { get; }
    /// <summary>Kernel-gradient accumulators: one vector per kernel element.</summary>
    public int Accumulators { get; }
    /// <summary>Floats of scratch one thread needs: input planes, padded gradient planes, accumulators.</summary>
    public int ScratchSize { get; }

    /// <summary>Offset of the padded output-gradient planes in the scratch.</summary>
    public int PaddedGradientOffset(int channels) => channels * InputPlane;
    /// <summary>Offset of the accumulators in the scratch.</summary>
    public int AccumulatorOffset(int channels) => PaddedGradientOffset(channels) + Filters * PaddedGradientPlane;

    private static int RoundUp(int n, int m) => (n + m - 1) / m * m;
}
