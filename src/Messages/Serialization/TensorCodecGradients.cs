using System.Buffers;
using System.Runtime.InteropServices;
using Distributed.Messages.Protocol;
using MessagePack;

namespace Distributed.Messages.Serialization;

// The gradient messages of the codec: GradientShard and GradientTail, whose int64 fixed-point gradients
// travel in the compact form (CompactFixedPoint: 32-bit parts, then the exceptions' indices and values).
public static partial class TensorCodec
{
    /// <summary>
    /// Encodes a <see cref="GradientTail"/> of <paramref name="gradient"/> (parameters
    /// <paramref name="offset"/> to the end, read in place) into a pooled frame, so a worker sends it
    /// from its running sum without copying it.
    /// </summary>
    /// <returns>The frame; the caller holds it once and must <see cref="EncodedFrame.Release"/> it.</returns>
    /// <exception cref="ArgumentException">A field exceeds the bounds the decoder enforces.</exception>
    public static EncodedFrame EncodeGradientTailPooled(string runId, long iteration, long version, int shardId, string workerId, int offset, ReadOnlySpan<long> gradient,
        int firstMicroShard, int microShardCount) =>
        EncodeGradientTail(runId, iteration, version, shardId, workerId, offset, gradient, firstMicroShard, microShardCount, pooled: true).ToFrame();

    private static ExactBufferWriter EncodeGradientShard(GradientShard m, bool pooled)
    {
        const string type = nameof(GradientShard);
        CheckString(m.RunId, type, nameof(m.RunId), MaxStringChars);
        CheckString(m.WorkerId, type, nameof(m.WorkerId), MaxStringChars);
        CheckArray(m.MicroShardSizes, type, nameof(m.MicroShardSizes));
        CheckArray(m.MicroShardLossSums, type, nameof(m.MicroShardLossSums));
        CheckArray(m.MicroShardCorrect, type, nameof(m.MicroShardCorrect));
        CheckArray(m.GradientFixedPoint, type, nameof(m.GradientFixedPoint));
        CheckArray(m.BatchStatistics, type, nameof(m.BatchStatistics));
        var compact = new CompactGradient(m.GradientFixedPoint, type);

        long size = 1 + 1
            + StringSize(m.RunId) + IntSize(m.Iteration) + IntSize(m.Version) + IntSize(m.ShardId)
            + StringSize(m.WorkerId) + IntSize(m.FirstMicroShard)
            + BinSize(m.MicroShardSizes) + BinSize(m.MicroShardLossSums) + BinSize(m.MicroShardCorrect)
            + compact.Size + BinSize(m.BatchStatistics)
            + 9;
        var output = new ExactBufferWriter(CheckedSize(size, type), pooled);
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(GradientShardFields);
        writer.Write(FormatVersion);
        writer.Write(m.RunId);
        writer.Write(m.Iteration);
        writer.Write(m.Version);
        writer.Write(m.ShardId);
        writer.Write(m.WorkerId);
        writer.Write(m.FirstMicroShard);
        WriteBlock<int>(ref writer, m.MicroShardSizes);
        WriteBlock<double>(ref writer, m.MicroShardLossSums);
        WriteBlock<int>(ref writer, m.MicroShardCorrect);
        compact.Write(ref writer, m.GradientFixedPoint);
        WriteBlock<float>(ref writer, m.BatchStatistics);
        writer.Write(m.ComputeMilliseconds);
        writer.Flush();
        return output;
    }

    private static ExactBufferWriter EncodeGradientTail(string runId, long iteration, long version, int shardId, string workerId, int offset,
        ReadOnlySpan<long> gradient, int firstMicroShard, int microShardCount, bool pooled)
    {
        const string type = nameof(GradientTail);
        CheckString(runId, type, nameof(GradientTail.RunId), MaxStringChars);
        CheckString(workerId, type, nameof(GradientTail.WorkerId), MaxStringChars);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var compact = new CompactGradient(gradient, type);
        long size = 1 + 1 + StringSize(runId) + IntSize(iteration) + IntSize(version) + IntSize(shardId) + StringSize(workerId) + IntSize(offset)
            + compact.Size + IntSize(firstMicroShard) + IntSize(microShardCount);
        var output = new ExactBufferWriter(CheckedSize(size, type), pooled);
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(GradientTailFields);
        writer.Write(FormatVersion);
        writer.Write(runId);
        writer.Write(iteration);
        writer.Write(version);
        writer.Write(shardId);
        writer.Write(workerId);
        writer.Write(offset);
        compact.Write(ref writer, gradient);
        writer.Write(firstMicroShard);
        writer.Write(microShardCount);
        writer.Flush();
        return output;
    }

    // The compact form's three blocks: exceptions found first (they are few), so the size is exact and
    // the 32-bit parts go straight into the output, with no intermediate array of the model's size.
    private readonly ref struct CompactGradient
    {
        private readonly int[] _exceptionIndices;
        private readonly long[] _exceptionValues;
        private readonly long _lowBytes;

        public CompactGradient(ReadOnlySpan<long> values, string type)
        {
            _lowBytes = (long)values.Length * sizeof(int);
            if (_lowBytes > MaxArrayBytes)
                throw new ArgumentException($"{type}.GradientFixedPoint has {values.Length} elements; at most {MaxArrayBytes / sizeof(int)} are allowed.");
            (_exceptionIndices, _exceptionValues) = CompactFixedPoint.Exceptions(values);
        }

        public long Size => BinHeaderSize(_lowBytes) + _lowBytes + BinSize(_exceptionIndices) + BinSize(_exceptionValues);

        public void Write(ref MessagePackWriter writer, ReadOnlySpan<long> values)
        {
            int bytes = (int)_lowBytes;
            writer.WriteBinHeader(bytes);
            var low = MemoryMarshal.Cast<byte, int>(writer.GetSpan(bytes)[..bytes]);
            CompactFixedPoint.WriteLow(values, low);
            if (!BitConverter.IsLittleEndian) ReverseEndianness(low);
            writer.Advance(bytes);
            WriteBlock<int>(ref writer, _exceptionIndices);
            WriteBlock<long>(ref writer, _exceptionValues);
        }
    }

    private static GradientShard DecodeGradientShard(ref MessagePackReader reader)
    {
        const string m = GradientShardManifest;
        ReadHeader(ref reader, m, GradientShardFields);
        string runId = ReadString(ref reader, m, "RunId", MaxStringChars);
        long iteration = reader.ReadInt64();
        long version = reader.ReadInt64();
        int shardId = reader.ReadInt32();
        string workerId = ReadString(ref reader, m, "WorkerId", MaxStringChars);
        int firstMicroShard = reader.ReadInt32();
        int[] sizes = ReadBlock<int>(ref reader, m, "MicroShardSizes");
        double[] lossSums = ReadBlock<double>(ref reader, m, "MicroShardLossSums");
        int[] correct = ReadBlock<int>(ref reader, m, "MicroShardCorrect");
        long[] gradient = ReadCompactGradient(ref reader, m);
        float[] statistics = ReadBlock<float>(ref reader, m, "BatchStatistics");
        double computeMilliseconds = reader.ReadDouble();
        return new GradientShard(runId, iteration, version, shardId, workerId, firstMicroShard,
            sizes, lossSums, correct, gradient, statistics, computeMilliseconds);
    }

    private static GradientTail DecodeGradientTail(ref MessagePackReader reader)
    {
        const string m = GradientTailManifest;
        ReadHeader(ref reader, m, GradientTailFields);
        string runId = ReadString(ref reader, m, "RunId", MaxStringChars);
        long iteration = reader.ReadInt64();
        long version = reader.ReadInt64();
        int shardId = reader.ReadInt32();
        string workerId = ReadString(ref reader, m, "WorkerId", MaxStringChars);
        int offset = reader.ReadInt32();
        if (offset < 0) throw Malformed(m, $"Offset: {offset} is negative");
        long[] gradient = ReadCompactGradient(ref reader, m);
        int firstMicroShard = reader.ReadInt32();
        int microShardCount = reader.ReadInt32();
        return new GradientTail(runId, iteration, version, shardId, workerId, offset, gradient, firstMicroShard, microShardCount);
    }

    private static long[] ReadCompactGradient(ref MessagePackReader reader, string manifest)
    {
        ReadOnlySequence<byte> low = ReadRawBlock(ref reader, manifest, "GradientLow", sizeof(int));
        int[] exceptionIndices = ReadBlock<int>(ref reader, manifest, "GradientExceptionIndices");
        long[] exceptionValues = ReadBlock<long>(ref reader, manifest, "GradientExceptionValues");
        return JoinGradient(low, exceptionIndices, exceptionValues);
    }

    // The int64 gradient from its 32-bit parts, read in place when they are contiguous (the tensor
    // link's frames), into an array from the pool that the parameter server hands back after adding it.
    private static long[] JoinGradient(in ReadOnlySequence<byte> low, int[] exceptionIndices, long[] exceptionValues)
    {
        int count = (int)(low.Length / sizeof(int));
        if (low.IsSingleSegment && BitConverter.IsLittleEndian)
            return CompactFixedPoint.Join(MemoryMarshal.Cast<byte, int>(low.FirstSpan), exceptionIndices, exceptionValues, TensorBufferPool.Rent<long>(count));
        int[] copy = TensorBufferPool.Rent<int>(count);
        try
        {
            low.CopyTo(MemoryMarshal.AsBytes(copy.AsSpan()));
            if (!BitConverter.IsLittleEndian) ReverseEndianness<int>(copy);
            return CompactFixedPoint.Join(copy, exceptionIndices, exceptionValues, TensorBufferPool.Rent<long>(count));
        }
        finally { TensorBufferPool.Return(copy); }
    }
}
