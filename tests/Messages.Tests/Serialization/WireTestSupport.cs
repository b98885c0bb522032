using System.Collections;
using System.Reflection;
using Akka.Actor;
using Akka.Configuration;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>Configuration, sample messages and a field-by-field comparer shared by the wire tests.</summary>
internal static class WireTestSupport
{
    /// <summary>A remoting node on loopback with the project's serialization settings in front.</summary>
    public static Config RemoteConfig { get; } = SerializationConfig.Hocon.WithFallback(ConfigurationFactory.ParseString("""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        akka.coordinated-shutdown.run-by-actor-system-terminate = on
        akka.coordinated-shutdown.terminate-actor-system = on
        """));

    public static RunPlan Plan(string runId = "run-1") => new(
        runId, """{"layers":[{"type":"dense","units":10}]}""", "sha256:abc", 42UL, 3, 256, 32, 0.1, 54000,
        0.05f, 0.9f, true, 5e-4f, 0.01f, 2, 0.5f);

    /// <summary>One sample per protocol message type, keyed by the type's name.</summary>
    public static IReadOnlyDictionary<string, Func<IActorRef[], object>> Samples { get; } =
        new Dictionary<string, Func<IActorRef[], object>>
        {
            [nameof(RegisterWorker)] = _ => new RegisterWorker("", "worker-1", "sha256:abc", 8),
            [nameof(WorkerAccepted)] = _ => new WorkerAccepted("run-1", "worker-1", Plan()),
            [nameof(WorkerRefused)] = _ => new WorkerRefused("run-1", "worker-1", "Worker 3 has dataset fingerprint X, coordinator has Y"),
            [nameof(WorkerReady)] = _ => new WorkerReady("run-1", "worker-1"),
            [nameof(WorkerFailed)] = _ => new WorkerFailed("run-1", "worker-1", "out of memory"),
            [nameof(RunFinished)] = _ => new RunFinished("run-1", true, "test accuracy 91.2 %"),
            [nameof(RunPlan)] = _ => Plan(),
            [nameof(StartRun)] = refs => new StartRun("run-1", Plan(), refs, "/runs/a/checkpoints/iter-000000100.ckpt"),
            [nameof(WorkersChanged)] = refs => new WorkersChanged("run-1", refs.ToList()),
            [nameof(RunStarted)] = _ => new RunStarted("run-1", 0, 1_234_567),
            [nameof(BeginStep)] = _ => new BeginStep("run-1", 17, 2, 16, 256, 8, 0.05f),
            [nameof(ComputeGradients)] = _ => new ComputeGradients("run-1", 17, 2, 16, 3, 4, [5, 9, 1, int.MaxValue, 0]),
            [nameof(ShardRejected)] = _ => new ShardRejected("run-1", 17, 3, "worker-1", "stale version 15, expected 16"),
            [nameof(ShardAccepted)] = _ => new ShardAccepted("run-1", 17, 3, "worker-1"),
            [nameof(ShardFailed)] = _ => new ShardFailed("run-1", 17, 3, "worker-1", "InsufficientExecutionStackException: insufficient stack"),
            [nameof(StepCompleted)] = _ => new StepCompleted("run-1", 17, 17, 123.456, 200, 256,
                new List<ShardTiming> { new("worker-1", 128, 12.5), new("worker-2", 128, 14.25) }, 1, 2),
            [nameof(GetWeights)] = _ => new GetWeights("run-1"),
            [nameof(SaveCheckpoint)] = _ => new SaveCheckpoint("run-1", "/tmp/ckpt/epoch-2.bin", 2, 17, 640, 512, 123.25),
            [nameof(CheckpointSaved)] = _ => new CheckpointSaved("run-1", "/tmp/ckpt/epoch-2.bin", null),
            [nameof(TensorLinkOffered)] = _ => new TensorLinkOffered("run-1", "10.0.0.5", 4054, Convert.ToBase64String(Bytes(32))),
            [nameof(GradientShard)] = _ => new GradientShard("run-1", 17, 16, 3, "worker-1", 4,
                [32, 32, 7], [1.5, 2.25, double.Epsilon], [30, 31, 7], Longs(1000), Floats(64, 3), 12.75),
            [nameof(GradientTail)] = _ => new GradientTail("run-1", 17, 16, 3, "worker-1", 250, Longs(750), 2, 3),
            [nameof(WeightsUpdated)] = _ => new WeightsUpdated("run-1", 17, 17, Floats(1000, 1), Floats(10, 2)),
            [nameof(WeightsSnapshot)] = _ => new WeightsSnapshot("run-1", 17, 17, Floats(1000, 4), []),
            [nameof(TensorChunk)] = _ => new TensorChunk("run-1", 99, 2, 5, TensorCodec.WeightsUpdatedManifest, Bytes(777)),
        };

    public static IEnumerable<object[]> ControlMessageNames() =>
        Samples.Where(s => s.Value([]) is IControlMessage).Select(s => new object[] { s.Key });

    public static IEnumerable<object[]> TensorMessageNames() =>
        Samples.Where(s => s.Value([]) is ITensorMessage).Select(s => new object[] { s.Key });

    /// <summary>Every concrete message type of the protocol (control or tensor).</summary>
    public static IEnumerable<Type> ProtocolMessageTypes() =>
        typeof(IControlMessage).Assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false }
            && (typeof(IControlMessage).IsAssignableFrom(t) || typeof(ITensorMessage).IsAssignableFrom(t)));

    public static float[] Floats(int n, int seed)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++)
            values[i] = (float)(random.NextDouble() * 2 - 1);
        if (n > 3)
        {
            values[0] = float.NaN;
            values[1] = float.NegativeInfinity;
            values[2] = -0f;
        }

        return values;
    }

    public static long[] Longs(int n)
    {
        var random = new Random(n);
        var values = new long[n];
        for (int i = 0; i < n; i++)
            values[i] = random.NextInt64(long.MinValue, long.MaxValue);
        return values;
    }

    public static byte[] Bytes(int n)
    {
        var values = new byte[n];
        new Random(n).NextBytes(values);
        return values;
    }

    private static void AssertSameBits(Array expected, Array actual, string path)
    {
        Assert.True(expected.Length == actual.Length, $"{path}: length {expected.Length} != {actual.Length}");
        ReadOnlySpan<byte> left = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(
            ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(expected), Buffer.ByteLength(expected));
        ReadOnlySpan<byte> right = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(
            ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(actual), Buffer.ByteLength(actual));
        int mismatch = left.CommonPrefixLength(right);
        if (mismatch < left.Length)
        {
            int index = mismatch / (Buffer.ByteLength(expected) / expected.Length);
            Assert.Fail($"{path}[{index}]: expected {expected.GetValue(index)}, got {actual.GetValue(index)}");
        }
    }

    /// <summary>
    /// Compares two messages property by property, recursing into nested records and comparing
    /// arrays and lists element by element (records' generated equality compares arrays by reference).
    /// Floats are compared bit for bit, so NaN and -0 must survive too.
    /// </summary>
    public static void AssertDeepEqual(object? expected, object? actual, string path = "message")
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{path}: expected {expected ?? "null"}, got {actual ?? "null"}");
            return;
        }

        switch (expected)
        {
            case Array { Rank: 1 } array when array.GetType().GetElementType()!.IsPrimitive:
                Assert.Equal(expected.GetType(), actual.GetType());
                AssertSameBits(array, (Array)actual, path);
                return;
            case float f:
                Assert.True(actual is float g && BitConverter.SingleToInt32Bits(f) == BitConverter.SingleToInt32Bits(g), $"{path}: {f} != {actual}");
                return;
            case double d:
                Assert.True(actual is double e && BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits(e), $"{path}: {d} != {actual}");
                return;
            case string or IActorRef or ValueType:
                Assert.True(expected.Equals(actual), $"{path}: expected {expected}, got {actual}");
                return;
            case IEnumerable sequence:
                var left = sequence.Cast<object?>().ToList();
                var right = Assert.IsAssignableFrom<IEnumerable>(actual).Cast<object?>().ToList();
                Assert.True(left.Count == right.Count, $"{path}: length {left.Count} != {right.Count}");
                for (int i = 0; i < left.Count; i++)
                    AssertDeepEqual(left[i], right[i], $"{path}[{i}]");
                return;
        }

        Assert.Equal(expected.GetType(), actual.GetType());
        foreach (var property in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || property.Name == "EqualityContract")
                continue;
            AssertDeepEqual(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}");
        }
    }
}
