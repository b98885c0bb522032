using System.Globalization;
using Distributed.Coordinator.Runs;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Commands;

/// <summary><c>evaluate --checkpoint FILE [--data-dir DIR]</c>: test-set loss, top-1 and top-5 of a checkpoint.</summary>
public static class EvaluateCommand
{
    /// <summary>Usage text.</summary>
    public const string Help = """
        Usage: evaluate --checkpoint FILE.ckpt [--data-dir DIR]

        Rebuilds the checkpoint's model, loads its weights and prints the Fashion-MNIST test-set
        figures as 'test: loss=<x> top1=<x> top5=<x>' plus the accuracy of each class and the
        confusion matrix (rows: true class, columns: predicted class).
          --checkpoint  a .ckpt file written by train
          --data-dir    folder with the four Fashion-MNIST IDX files (default as for train)

        Example: evaluate --checkpoint runs/quickstart/checkpoints/final.ckpt
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(ArgumentReader reader, TextWriter output)
    {
        string path = reader.String("--checkpoint") ?? throw new UsageException("--checkpoint is required");
        string? dataDir = reader.String("--data-dir");
        reader.Flag("--verbose");
        reader.EnsureAllConsumed(["--checkpoint", "--data-dir", "--verbose"]);

        var (checkpoint, _, test, result, confusion) = CheckpointEvaluation.Run(path, dataDir);
        output.WriteLine($"checkpoint: {path} (epoch {checkpoint.Header.Epoch}, iteration {checkpoint.Header.Iteration})");
        for (int c = 0; c < test.NumClasses; c++)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {test.ClassNames[c],-12} {confusion.Recall(c):F4} ({confusion[c, c]}/{confusion.RowTotal(c)})"));
        output.WriteLine("confusion matrix (rows: true class, columns: predicted class):");
        output.Write(confusion.Format(test.ClassNames));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test: loss={result.Loss:F4} top1={result.Top1:F4} top5={result.Top5:F4}"));
        return ExitCodes.Ok;
    }
}
