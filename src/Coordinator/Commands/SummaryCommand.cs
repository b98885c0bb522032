using Distributed.Coordinator.Cli;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Commands;

/// <summary><c>summary --model NAME|FILE.json [--input H,W,C] [--classes N] [--alpha A] [--mult-adds]</c>: prints Keras's model summary.</summary>
public static class SummaryCommand
{
    /// <summary>Usage text.</summary>
    public const string Help = """
        Usage: summary --model NAME|FILE.json [--input H,W,C] [--classes N] [--alpha A] [--mult-adds]

        Prints the Keras-style summary of a model: layers, output shapes, parameter counts.
          --model       built-in name (seed-simple, keras-mnist-cnn, mobilenet, mobilenet-mini) or a JSON spec file
          --input       input shape H,W,C (default: the model's own, 28,28,1 for the small ones, 224,224,3 for mobilenet)
          --classes     number of classes of the head
          --alpha       MobileNet width multiplier (default 1.0)
          --mult-adds   add a column with each layer's multiply-adds per sample

        Example: summary --model mobilenet --input 224,224,3 --classes 1000
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(ArgumentReader reader, TextWriter output)
    {
        var model = ModelArguments.Read(reader, defaultModel: null);
        bool multAdds = reader.Flag("--mult-adds");
        reader.EnsureAllConsumed([.. ModelArguments.Names, "--mult-adds"]);
        output.Write(model.Resolve().Build().Summary(multAdds));
        return ExitCodes.Ok;
    }
}
