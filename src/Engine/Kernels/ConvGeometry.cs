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
}
