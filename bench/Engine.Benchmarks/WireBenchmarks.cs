using BenchmarkDotNet.Attributes;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Engine.Benchmarks;

/// <summary>
/// The tensor wire format (<see cref="TensorCodec"/>): encode and decode of a 1.2 M-float
/// <see cref="WeightsUpdated"/> (4.8 MB) and of a <see cref="GradientShard"/> with 1.2 M fixed-point
/// longs (9.6 MB), plus split into 256 KiB chunks and reassembly. GB/s = encoded bytes / time
/// (a round trip moves the bytes twice: divide the round-trip time by two for per-direction speed).
/// Run: <c>dotnet run -c Release -- --filter *WireBenchmarks* --inProcess</c> from bench/Engine.Benchmarks.
/// </summary>
[MemoryDiagnoser]
public class WireBenchmarks
{
    private const int Parameters = 1_200_000;

    private WeightsUpdated _weights = null!;
    private GradientShard _gradient = null!;
    private byte[] _weightsBytes = [];
    private byte[] _gradientBytes = [];
    private IReadOnlyList<TensorChunk> _chunks = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        var weights = new float[Parameters];
        for (int i = 0; i < weights.Length; i++)
            weights[i] = (float)rng.NextDouble();
        var fixedPoint = new long[Parameters];
        for (int i = 0; i < fixedPoint.Length; i++)
            fixedPoint[i] = rng.NextInt64();
        _weights = new WeightsUpdated("run-1", 10, 10, weights, new float[2_000]);
        _gradient = new GradientShard("run-1", 10, 10, 0, "worker-1", 0, [32, 32, 32, 32], [1, 2, 3, 4], [30, 31, 29, 32],
            fixedPoint, new float[8_000], 25.0);
        _weightsBytes = TensorCodec.ToBytes(_weights);
        _gradientBytes = TensorCodec.ToBytes(_gradient);
        _chunks = TensorChunker.Split(_weights, 1);
    }

    [Benchmark]
    public byte[] EncodeWeights() => TensorCodec.ToBytes(_weights);

    [Benchmark]
    public object DecodeWeights() => TensorCodec.Decode(TensorCodec.WeightsUpdatedManifest, _weightsBytes);

    [Benchmark]
    public object RoundTripWeights() =>
        TensorCodec.Decode(TensorCodec.WeightsUpdatedManifest, TensorCodec.ToBytes(_weights));

    [Benchmark]
    public object RoundTripGradient() =>
        TensorCodec.Decode(TensorCodec.GradientShardManifest, TensorCodec.ToBytes(_gradient));

    [Benchmark]
    public object DecodeGradient() => TensorCodec.Decode(TensorCodec.GradientShardManifest, _gradientBytes);

    /// <summary>Sender and receiver side of a chunked transfer, without the network.</summary>
    [Benchmark]
    public object SplitAndAssembleWeights()
    {
        var assembler = new TensorAssembler();
        AssemblyResult result = default;
        foreach (var chunk in TensorChunker.Split(_weights, 2))
            result = assembler.Add(chunk);
        return result.Message!;
    }

    /// <summary>Receiver side only: reassembly decodes straight from the chunk payloads.</summary>
    [Benchmark]
    public object AssembleWeights()
    {
        var assembler = new TensorAssembler();
        AssemblyResult result = default;
        foreach (var chunk in _chunks)
            result = assembler.Add(chunk);
        return result.Message!;
    }
}
