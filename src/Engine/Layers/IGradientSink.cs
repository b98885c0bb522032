namespace Distributed.Engine.Layers;

/// <summary>
/// Receives parameter gradients group by group from <see cref="Layer.BackwardGrouped"/>: a worker adds
/// each micro-shard's gradients into its exact fixed-point sum before the next group overwrites them.
/// </summary>
public interface IGradientSink
{
    /// <summary>
    /// The model's gradient buffer holds one group's gradients of the parameters at
    /// <paramref name="offset"/> .. <paramref name="offset"/> + <paramref name="count"/> (float32, the
    /// layout of <see cref="Models.Sequential.Gradients"/>).
    /// </summary>
    void Accept(int offset, int count);

    /// <summary>
    /// A trainable layer has handed over every group: with the layers after it, which the backward
    /// pass finished earlier, the gradients of all parameters from <paramref name="offset"/> to the end
    /// are complete while the layers before it are still to be computed.
    /// </summary>
    void LayerCompleted(int offset);
}
