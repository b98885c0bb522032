namespace Distributed.Engine;

/// <summary>
/// The engine's own error for bad input: a model that cannot be built, a corrupt data or
/// checkpoint file, an invalid specification. The message names the problem and, where
/// useful, the fix; callers show it as one line.
/// </summary>
public class EngineException : Exception
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public EngineException(string message) : base(message) { }

    /// <summary>Creates the exception with a one-line message and its cause.</summary>
    public EngineException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A model whose layers do not fit together (shapes, channels, strides).</summary>
public sealed class ModelBuildException(string message) : EngineException(message);

/// <summary>A data file (IDX, dataset folder) that is missing, corrupt or truncated.</summary>
public sealed class DataFormatException : EngineException
{
    /// <summary>Creates the exception.</summary>
    public DataFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with its cause.</summary>
    public DataFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A checkpoint that is corrupt, of another version, or of another architecture.</summary>
public sealed class CheckpointException : EngineException
{
    /// <summary>Creates the exception.</summary>
    public CheckpointException(string message) : base(message) { }

    /// <summary>Creates the exception with its cause.</summary>
    public CheckpointException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A model specification (JSON or built-in name) that is invalid.</summary>
public sealed class ModelSpecException(string message) : EngineException(message);
