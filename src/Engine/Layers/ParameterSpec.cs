using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>How a parameter tensor is filled before training.</summary>
public enum Initializer
{
    /// <summary>Keras's <c>glorot_uniform</c>: U(−l, l), l = sqrt(6 / (fan_in + fan_out)).</summary>
    GlorotUniform,
    /// <summary>All zeros (biases, beta, moving mean).</summary>
    Zeros,
    /// <summary>All ones (gamma, moving variance).</summary>
    Ones,
}

/// <summary>
/// One parameter tensor of a layer: its Keras name (<c>kernel</c>, <c>bias</c>, <c>gamma</c>...),
/// its shape in the engine's layout, its initialiser and the fans Glorot uses.
/// </summary>
public sealed record ParameterSpec(string Name, TensorShape Shape, Initializer Initializer, int FanIn = 0, int FanOut = 0);
