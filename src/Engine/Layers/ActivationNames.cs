namespace Distributed.Engine.Layers;

/// <summary>Keras's names for fused activations.</summary>
public static class ActivationNames
{
    /// <summary>Parses <c>linear</c>, <c>relu</c> or <c>relu6</c> (null means linear); null result for unknown names.</summary>
    public static Activation? Parse(string? name) => name switch
    {
        null or "linear" or "none" => Activation.None,
        "relu" => Activation.Relu,
        "relu6" => Activation.Relu6,
        _ => null,
    };

    /// <summary>Keras's name of an activation.</summary>
    public static string ToName(Activation activation) => activation switch
    {
        Activation.Relu => "relu",
        Activation.Relu6 => "relu6",
        _ => "linear",
    };
}
