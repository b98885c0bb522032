using System.Runtime.CompilerServices;

namespace Distributed.Engine.Kernels;

/// <summary>
/// Geometry of a 2-D sliding window over one NHWC sample: input <c>(H, W, C)</c>, kernel
/// <c>KH × KW</c>, strides, the padding before each dimension and the output size.
/// </summary>
public readonly record struct ConvGeometry(
    int InputHeight, int InputWidth, int Channels,
    int KernelHeight, int KernelWidth,
    int StrideHeight, int StrideWidth,
    int PadTop, int PadLeft,
    int OutputHeight, int OutputWidth)
{
    /// <summary>Output pixels per sample.</summary>
    public int OutputPixels => OutputHeight * OutputWidth;

    /// <summary>Input floats per sample.</summary>
    public int InputSize => InputHeight * InputWidth * Channels;

    /// <summary>Length of one im2col row: <c>KH · KW · C</c>, ordered (kh, kw, c).</summary>
    public int PatchSize => KernelHeight * KernelWidth * Channels;

    /// <summary>True when the window is the identity layout: 1×1, stride 1, no padding.</summary>
    public bool IsPointwise => KernelHeight == 1 && KernelWidth == 1 && StrideHeight == 1 && StrideWidth == 1 && PadTop == 0 && PadLeft == 0;

    /// <summary>
    /// The window of output row <paramref name="oh"/>: its first input row (may lie in the padding) and
    /// the kernel rows [From, To) that fall inside the input.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal (int First, int From, int To) WindowRows(int oh) => Clip(oh, StrideHeight, PadTop, KernelHeight, InputHeight);

    /// <summary>The same for output column <paramref name="ow"/> and the kernel columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal (int First, int From, int To) WindowColumns(int ow) => Clip(ow, StrideWidth, PadLeft, KernelWidth, InputWidth);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int First, int From, int To) Clip(int o, int stride, int pad, int kernel, int input)
    {
        int first = o * stride - pad;
        return (first, Math.Max(0, -first), Math.Min(kernel, input - first));
    }
}
