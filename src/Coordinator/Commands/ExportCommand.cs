using Distributed.Engine.Checkpoints;
using Distributed.Engine.Data;
using Distributed.Engine.Export;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Commands;

/// <summary><c>export --checkpoint FILE --onnx OUT.onnx</c>: the trained network as a standard ONNX model.</summary>
public static class ExportCommand
{
    /// <summary>Usage text.</summary>
    public const string Help = """
        Usage: export --checkpoint FILE.ckpt --onnx OUT.onnx

        Writes the checkpoint's network as an ONNX model (opset 13, inference mode: dropout off,
        batch normalisation on its moving statistics) for ONNX Runtime and other servers.
        Input 'input': float32 (batch, 28, 28, 1) pixels in [0, 1], NHWC as the IDX reader gives
        them (a run's --standardize is part of the graph); the batch dimension is dynamic.
        Output 'logits': float32 (batch, classes) ('probabilities' if the model ends in Softmax).
          --checkpoint  a .ckpt file written by train
          --onnx        the file to write (replaced if it exists)

        Example: export --checkpoint runs/quickstart/checkpoints/final.ckpt --onnx runs/quickstart/model.onnx
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(ArgumentReader reader, TextWriter output)
    {
        string path = reader.String("--checkpoint") ?? throw new UsageException("--checkpoint is required (a .ckpt file written by train)");
        string onnx = reader.String("--onnx") ?? throw new UsageException("--onnx is required (the .onnx file to write)");
        reader.Flag("--verbose");
        reader.EnsureAllConsumed(["--checkpoint", "--onnx", "--verbose"]);
        if (!onnx.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"--onnx must name a .onnx file, got '{onnx}'");
        string? folder = Path.GetDirectoryName(Path.GetFullPath(onnx));
        if (folder is not null && !Directory.Exists(folder))
            throw new UsageException($"--onnx: the folder {folder} does not exist");

        var checkpoint = Checkpoint.Load(path);
        var model = checkpoint.BuildModel(path);
        var scaling = InputScaling.FromSettings(checkpoint.Header.Settings);
        OnnxExporter.Write(model, onnx, scaling,
            $"{model.Layers.Count} layers, {model.TotalParameterCount} parameters, from {Path.GetFileName(path)} (epoch {checkpoint.Header.Epoch}, iteration {checkpoint.Header.Iteration})");
        output.WriteLine($"exported {path} to {onnx} ({new FileInfo(onnx).Length:N0} bytes, opset 13, input (batch, {string.Join(", ", model.InputShape.Dims)}), " +
            $"output '{(model.EndsWithSoftmax ? "probabilities" : "logits")}' (batch, {model.OutputShape.Size}){(scaling.IsIdentity ? "" : ", standardisation included")})");
        return ExitCodes.Ok;
    }
}
