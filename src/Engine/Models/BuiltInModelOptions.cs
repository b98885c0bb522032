using Distributed.Engine.Tensors;

namespace Distributed.Engine.Models;

/// <summary>Overrides for a built-in model (or a model file) resolved by <see cref="BuiltInModels"/>.</summary>
/// <param name="InputShape">Per-sample input shape replacing the model's default, e.g. (32, 32, 3); null keeps the default.</param>
/// <param name="Classes">Units of the classifier head (the last Dense layer); null keeps the default (10, or 1,000 for mobilenet).</param>
/// <param name="Alpha">MobileNet's width multiplier: channels are int(filters · alpha). Only the MobileNet models accept a value other than 1.</param>
public sealed record BuiltInModelOptions(TensorShape? InputShape = null, int? Classes = null, float Alpha = 1f)
{
    /// <summary>No overrides.</summary>
    public static BuiltInModelOptions Default { get; } = new();
}
