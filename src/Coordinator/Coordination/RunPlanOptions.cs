using Distributed.Engine.Optimizers;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.Coordination;

/// <summary>The engine's view of a run plan's hyper-parameters, so every actor builds the same optimiser.</summary>
public static class RunPlanOptions
{
    /// <summary>The SGD options the plan carries.</summary>
    public static SgdOptions Sgd(this RunPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return new SgdOptions(plan.LearningRate, plan.Momentum, plan.Nesterov, plan.WeightDecay, plan.LearningRateDecay, plan.StepEpochs, plan.StepGamma);
    }
}
