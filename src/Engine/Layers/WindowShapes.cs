using Distributed.Engine.Kernels;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>Shared shape checks for sliding-window layers (convolutions and pooling).</summary>
internal static class WindowShapes
{
    /// <summary>Resolves the window geometry, or throws an error naming the layer and the shapes.</summary>
    public static ConvGeometry Resolve(Layer layer, TensorShape input, int kh, int kw, int sh, int sw, PaddingMode padding, int padH, int padW)
    {
        var h = PaddedExtent.Resolve(padding, input.Height, kh, sh, padH);
        var w = PaddedExtent.Resolve(padding, input.Width, kw, sw, padW);
        if (h.Output <= 0 || w.Output <= 0)
        {
            int ph = input.Height + h.Before + h.After, pw = input.Width + w.Before + w.After;
            throw new ModelBuildException(
                $"{layer.Name} ({layer.TypeName}): kernel {kh}×{kw} is larger than the padded input {ph}×{pw} " +
                $"(input shape {input}, padding {PaddingName(padding, padH, padW)}); use a smaller kernel, more padding or a larger input");
        }
        return new ConvGeometry(input.Height, input.Width, input.Channels, kh, kw, sh, sw, h.Before, w.Before, h.Output, w.Output);
    }

    /// <summary>Keras's padding string, or the explicit pads as <c>[ph, pw]</c>.</summary>
    public static object PaddingName(PaddingMode mode, int padH, int padW) => mode switch
    {
        PaddingMode.Same => "same",
        PaddingMode.Valid => "valid",
        _ => new[] { padH, padW },
    };
}
