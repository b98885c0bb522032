using Distributed.Engine.Data;
using Distributed.Engine.Models;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Commands;

/// <summary>The data and model a <c>train</c> run starts from, checked against each other.</summary>
public sealed record TrainingInputs(FashionMnistData Data, ModelSpec Spec, Sequential Model, InputScaling Scaling)
{

    /// <summary>
    /// Loads the dataset (standardised with the training part's pixel mean and deviation when
    /// asked) and builds the model; a model that does not fit Fashion-MNIST is a usage error naming the fix.
    /// </summary>
    public static TrainingInputs Load(TrainSettings settings)
    {
        var data = FashionMnist.Load(settings.DataDirectory);
        var spec = settings.Model.Resolve();
        var model = spec.Build();
        if (model.InputShape != data.Train.SampleShape)
            throw new UsageException($"--model {settings.Model.Model} expects input {model.InputShape} but Fashion-MNIST images are {data.Train.SampleShape}; pass --input 28,28,1");
        if (model.Classes != data.Train.NumClasses)
            throw new UsageException($"--model {settings.Model.Model} predicts {model.Classes} classes but Fashion-MNIST has {data.Train.NumClasses}; pass --classes {data.Train.NumClasses}");
        // Statistics of the training part only: validation and test stay unseen.
        var scaling = settings.Standardize ? InputScaling.StandardizeWith(data.Train, settings.Fit.TrainCount(data.Train.Count)) : InputScaling.Identity;
        scaling.Apply(data.Train);
        scaling.Apply(data.Test);
        return new TrainingInputs(data, spec, model, scaling);
    }
}
