using Distributed.Coordinator.Cli;
using Distributed.Messages.Hosting;
using Distributed.Engine.Models;
using Distributed.Engine.Tensors;

namespace Distributed.Coordinator.Commands;

/// <summary>The options that choose a model: <c>--model NAME|FILE.json [--input H,W,C] [--classes N] [--alpha A]</c>.</summary>
public sealed record ModelArguments(string Model, BuiltInModelOptions Options)
{
    /// <summary>Option names this record reads.</summary>
    public static readonly string[] Names = ["--model", "--input", "--classes", "--alpha"];

    /// <summary>Reads the options; <paramref name="defaultModel"/> when --model is absent.</summary>
    public static ModelArguments Read(ArgumentReader reader, string? defaultModel)
    {
        string model = reader.String("--model", defaultModel) ?? throw new UsageException("--model is required (a built-in name or a .json file)");
        var input = reader.IntList("--input", 1, 3);
        int? classes = reader.Has("--classes") ? reader.Int("--classes", 0, 1, 100_000) : null;
        float alpha = (float)reader.Double("--alpha", 1.0, 0.01, 4.0);
        return new ModelArguments(model, new BuiltInModelOptions(input is null ? null : new TensorShape(input), classes, alpha));
    }

    /// <summary>Resolves the built-in name or JSON file to a specification.</summary>
    public ModelSpec Resolve() => BuiltInModels.Resolve(Model, Options);
}
