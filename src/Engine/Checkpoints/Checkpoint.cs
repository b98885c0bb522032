using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Distributed.Engine.Models;

namespace Distributed.Engine.Checkpoints;

/// <summary>
/// Everything needed to continue or reuse a run, in one versioned file:
/// <code>
/// "DCNNCKPT" | u32 version | u32 header length | header JSON (UTF-8)
/// | f32[parameters] weights | f32[state] | f32[velocity] | SHA-256 of all preceding bytes
/// </code>
/// little-endian. Written to a temporary file in the same folder and renamed, so a crash
/// never leaves a half-written checkpoint under the final name.
/// </summary>
public sealed class Checkpoint
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int FormatVersion = 1;

    private static readonly byte[] Magic = "DCNNCKPT"u8.ToArray();
    private const int MaxHeaderBytes = 16 << 20;
    private const int MaxValues = 500_000_000;

    /// <summary>Creates a checkpoint from its parts.</summary>
    public Checkpoint(CheckpointHeader header, float[] weights, float[] state, float[] velocity)
    {
        Header = header;
        Weights = weights;
        State = state;
        Velocity = velocity;
    }

    /// <summary>What the blocks belong to.</summary>
    public CheckpointHeader Header { get; }

    /// <summary>All parameters, in the model's flat layout.</summary>
    public float[] Weights { get; }

    /// <summary>Non-trainable state (batch-norm running statistics).</summary>
    public float[] State { get; }

    /// <summary>Momentum buffers; empty when the optimiser keeps none.</summary>
    public float[] Velocity { get; }

    /// <summary>Captures a model's weights and state, the optimiser's momentum and the training position.</summary>
    public static Checkpoint Capture(Sequential model, string modelSpecJson, float[]? velocity, int epoch, long iteration,
        IReadOnlyDictionary<string, string>? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var header = new CheckpointHeader
        {
            ModelSpecJson = modelSpecJson,
            Architecture = ArchitectureOf(model),
            Epoch = epoch,
            Iteration = iteration,
            ParameterCount = model.Weights.Length,
            StateCount = model.State.Length,
            VelocityCount = velocity?.Length ?? 0,
            Settings = settings is null ? [] : new Dictionary<string, string>(settings),
            CreatedUtc = DateTime.UtcNow.ToString("O"),
        };
        return new Checkpoint(header, (float[])model.Weights.Clone(), (float[])model.State.Clone(), velocity is null ? [] : (float[])velocity.Clone());
    }

    /// <summary>One line per layer: type, output shape and parameter shapes. Names and trainability do not count.</summary>
    public static string ArchitectureOf(Sequential model)
    {
        var sb = new StringBuilder();
        sb.Append("input ").Append(model.InputShape).Append('\n');
        foreach (var layer in model.Layers)
        {
            sb.Append(layer.TypeName).Append(' ').Append(layer.OutputShape);
            foreach (var p in layer.Parameters) sb.Append(' ').Append(p.Name).Append(p.Shape);
            foreach (var s in layer.StateTensors) sb.Append(' ').Append(s.Name).Append(s.Shape);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>
    /// Copies weights and state into <paramref name="model"/> (and momentum into <paramref name="velocity"/>
    /// when both have it). Throws <see cref="CheckpointException"/> naming the first differing layer
    /// when the checkpoint belongs to another architecture.
    /// </summary>
    public void Restore(Sequential model, float[]? velocity = null, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        string expected = ArchitectureOf(model);
        if (expected != Header.Architecture)
        {
            var mine = expected.Split('\n');
            var theirs = Header.Architecture.Split('\n');
            int i = 0;
            while (i < mine.Length && i < theirs.Length && mine[i] == theirs[i]) i++;
            string a = i < theirs.Length ? theirs[i] : "(nothing)", b = i < mine.Length ? mine[i] : "(nothing)";
            throw new CheckpointException($"{source ?? "checkpoint"}: written for a different architecture: at line {i} it has '{a}' but this model has '{b}'; pass the --model the checkpoint was trained with");
        }
        // The architecture text is only as trustworthy as the file: its blocks must still fit the model.
        if (Weights.Length != model.Weights.Length || State.Length != model.State.Length)
            throw new CheckpointException(
                $"{source ?? "checkpoint"}: holds {Weights.Length:N0} parameters and {State.Length:N0} state values but its architecture has {model.Weights.Length:N0} and {model.State.Length:N0}; the file is corrupt");
        Weights.CopyTo(model.Weights, 0);
        State.CopyTo(model.State, 0);
        if (velocity is not null && Velocity.Length == velocity.Length) Velocity.CopyTo(velocity, 0);
    }

    /// <summary>
    /// Builds the model the checkpoint's specification describes and restores its weights and state into it
    /// (<c>evaluate</c>, <c>export</c>, run reports, transfer learning).
    /// </summary>
    /// <param name="source">Names the checkpoint in error messages (usually its path).</param>
    /// <exception cref="CheckpointException">The specification is invalid or does not match the weights.</exception>
    public Sequential BuildModel(string source)
    {
        Sequential model;
        try { model = ModelSpec.Parse(Header.ModelSpecJson).Build(); }
        catch (EngineException e) { throw new CheckpointException($"{source}: its model specification is invalid: {e.Message}", e); }
        Restore(model, source: source);
        return model;
    }

    /// <summary>Writes the file atomically: a temporary file in the same folder, flushed, then renamed.</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                void Write(ReadOnlySpan<byte> bytes)
                {
                    file.Write(bytes);
                    hash.AppendData(bytes);
                }
                byte[] header = JsonSerializer.SerializeToUtf8Bytes(Header);
                Span<byte> word = stackalloc byte[4];
                Write(Magic);
                BinaryPrimitives.WriteInt32LittleEndian(word, FormatVersion);
                Write(word);
                BinaryPrimitives.WriteInt32LittleEndian(word, header.Length);
                Write(word);
                Write(header);
                WriteFloats(Weights, Write);
                WriteFloats(State, Write);
                WriteFloats(Velocity, Write);
                file.Write(hash.GetHashAndReset());
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private delegate void ByteWriter(ReadOnlySpan<byte> bytes);

    private static void WriteFloats(float[] values, ByteWriter write)
    {
        if (BitConverter.IsLittleEndian) { write(MemoryMarshal.AsBytes(values.AsSpan())); return; }
        var buffer = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), values[i]);
        write(buffer);
    }

    /// <summary>Reads and verifies a checkpoint; every defect is a <see cref="CheckpointException"/> naming the file.</summary>
    public static Checkpoint Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new CheckpointException($"{path}: no such checkpoint file");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: cannot read: {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses and verifies checkpoint bytes; <paramref name="source"/> names them in errors.</summary>
    public static Checkpoint Parse(ReadOnlySpan<byte> bytes, string source)
    {
        const int prefix = 16, digest = 32;
        if (bytes.Length < prefix + digest) throw new CheckpointException($"{source}: not a checkpoint (only {bytes.Length} bytes)");
        if (!bytes[..8].SequenceEqual(Magic)) throw new CheckpointException($"{source}: not a checkpoint (wrong magic bytes)");
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        if (version != FormatVersion) throw new CheckpointException($"{source}: checkpoint format version {version}, this build reads version {FormatVersion}");
        var body = bytes[..^digest];
        Span<byte> actual = stackalloc byte[digest];
        SHA256.HashData(body, actual);
        if (!actual.SequenceEqual(bytes[^digest..])) throw new CheckpointException($"{source}: checksum mismatch: the file is corrupt or truncated");

        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || prefix + (long)headerLength > body.Length)
            throw new CheckpointException($"{source}: invalid header length {headerLength}");
        CheckpointHeader? header;
        try { header = JsonSerializer.Deserialize<CheckpointHeader>(body.Slice(prefix, headerLength)); }
        catch (JsonException e) { throw new CheckpointException($"{source}: invalid header: {e.Message}", e); }
        if (header is null) throw new CheckpointException($"{source}: empty header");
        // System.Text.Json fills a required string with an explicit null; the file is then unusable.
        if (header.ModelSpecJson is null || header.Architecture is null)
            throw new CheckpointException($"{source}: invalid header: '{(header.ModelSpecJson is null ? "model_spec" : "architecture")}' is null");
        if (header.Settings is null || header.CreatedUtc is null)
            header = header with { Settings = header.Settings ?? [], CreatedUtc = header.CreatedUtc ?? "" };
        if (header.ParameterCount < 0 || header.StateCount < 0 || header.VelocityCount < 0 ||
            header.ParameterCount > MaxValues || header.StateCount > MaxValues || header.VelocityCount > MaxValues ||
            (header.VelocityCount != 0 && header.VelocityCount != header.ParameterCount))
            throw new CheckpointException($"{source}: invalid block sizes in the header");
        long expected = prefix + (long)headerLength + 4L * ((long)header.ParameterCount + header.StateCount + header.VelocityCount);
        if (expected != body.Length) throw new CheckpointException($"{source}: the header announces {expected + digest} bytes but the file has {bytes.Length}");
        var rest = body[(prefix + headerLength)..];
        var weights = ReadFloats(ref rest, header.ParameterCount);
        var state = ReadFloats(ref rest, header.StateCount);
        var velocity = ReadFloats(ref rest, header.VelocityCount);
        return new Checkpoint(header, weights, state, velocity);
    }

    private static float[] ReadFloats(ref ReadOnlySpan<byte> source, int count)
    {
        var values = new float[count];
        var block = source[..(count * 4)];
        if (BitConverter.IsLittleEndian) block.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        else for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(block[(i * 4)..]);
        source = source[(count * 4)..];
        return values;
    }
}
