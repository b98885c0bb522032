namespace Distributed.Engine.Training;

/// <summary>Inference-mode results on a dataset: mean loss, top-1 and top-5 accuracy (fractions).</summary>
public sealed record EvaluationResult(double Loss, double Top1, double Top5, int Samples);
