namespace Distributed.Engine.Layers;

/// <summary>Padding rule of a convolution or pooling layer.</summary>
public enum PaddingMode
{
    /// <summary>No padding.</summary>
    Valid,
    /// <summary>TensorFlow's <c>same</c>: output = ceil(in / stride); odd padding goes to the bottom/right.</summary>
    Same,
    /// <summary>Explicit symmetric padding: output = floor((in + 2·pad − kernel) / stride) + 1.</summary>
    Explicit,
}

/// <summary>Resolved padding for one spatial dimension, and the output size it gives.</summary>
public readonly record struct PaddedExtent(int Before, int After, int Output)
{
    /// <summary>
    /// Resolves padding along one dimension. Returns an output of zero or less when the kernel
    /// does not fit; the caller turns that into an error naming the layer.
    /// </summary>
    public static PaddedExtent Resolve(PaddingMode mode, int input, int kernel, int stride, int explicitPad)
    {
        switch (mode)
        {
            case PaddingMode.Same:
            {
                int output = (input + stride - 1) / stride;
                int total = Math.Max((output - 1) * stride + kernel - input, 0);
                return new PaddedExtent(total / 2, total - total / 2, output);
            }
            case PaddingMode.Explicit:
            {
                int padded = input + 2 * explicitPad;
                int output = padded < kernel ? 0 : (padded - kernel) / stride + 1;
                return new PaddedExtent(explicitPad, explicitPad, output);
            }
            default:
            {
                int output = input < kernel ? 0 : (input - kernel) / stride + 1;
                return new PaddedExtent(0, 0, output);
            }
        }
    }
}
