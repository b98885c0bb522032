namespace Distributed.Engine.Layers;

/// <summary>An activation fused into a convolution or dense layer (Keras's <c>activation</c> argument).</summary>
public enum Activation
{
    /// <summary>Identity (Keras <c>linear</c>).</summary>
    None,
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>min(max(x, 0), 6).</summary>
    Relu6,
}
