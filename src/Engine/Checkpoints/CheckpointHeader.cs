using System.Text.Json.Serialization;

namespace Distributed.Engine.Checkpoints;

/// <summary>The JSON header of a checkpoint file: what the float blocks after it belong to.</summary>
public sealed record CheckpointHeader
{
    /// <summary>The model specification (JSON) the weights belong to.</summary>
    [JsonPropertyName("model_spec")] public required string ModelSpecJson { get; init; }

    /// <summary>Layer types and parameter shapes, one line per layer; what "same architecture" means.</summary>
    [JsonPropertyName("architecture")] public required string Architecture { get; init; }

    /// <summary>Epochs completed when written.</summary>
    [JsonPropertyName("epoch")] public int Epoch { get; init; }

    /// <summary>Optimiser steps completed when written.</summary>
    [JsonPropertyName("iteration")] public long Iteration { get; init; }

    /// <summary>Length of the weight block (float32 values).</summary>
    [JsonPropertyName("parameters")] public int ParameterCount { get; init; }

    /// <summary>Length of the state block (float32 values).</summary>
    [JsonPropertyName("state")] public int StateCount { get; init; }

    /// <summary>Length of the momentum block: 0 (no optimiser state) or the parameter count.</summary>
    [JsonPropertyName("velocity")] public int VelocityCount { get; init; }

    /// <summary>Training settings (optimiser, seed, batch...) as free-form key/value pairs.</summary>
    [JsonPropertyName("settings")] public Dictionary<string, string> Settings { get; init; } = [];

    /// <summary>When the file was written (UTC, ISO 8601).</summary>
    [JsonPropertyName("created_utc")] public string CreatedUtc { get; init; } = "";
}
