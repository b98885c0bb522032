using System.Collections.Concurrent;
using Akka.Actor;
using Distributed.Coordinator.Coordination;
using Distributed.Coordinator.ParameterServer;
using Distributed.Messages.Hosting;
using Distributed.Messages.Protocol;
using Distributed.Worker.Actors;

namespace Distributed.Integration.Tests.Cluster;

/// <summary>
/// A real Akka.Cluster on loopback inside the test process: one coordinator node (coordinator
/// and parameter-server singletons) and one ActorSystem per worker, all over real remoting
/// with the production serializers.
/// </summary>
internal sealed class InProcessCluster : IDisposable
{
    private readonly List<ActorSystem> _systems = [];
    private readonly TaskCompletionSource<TrainingCompleted> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<object> Reports { get; } = new();

    public ActorSystem CoordinatorSystem { get; private set; } = null!;

    public IActorRef ParameterServer { get; private set; } = ActorRefs.Nobody;

    public string SeedAddress { get; private set; } = "";

    public RunPlan Plan { get; private set; } = null!;

    public Task<TrainingCompleted> Completion => _completion.Task;

    /// <summary>The coordinator node's log lines about tensor links.</summary>
    public ConcurrentQueue<string> LinkEvents { get; } = new();

    public IEnumerable<EpochEnded> Epochs => Reports.OfType<EpochEnded>();

    public IEnumerable<RunEvent> Events => Reports.OfType<RunEvent>();

    /// <summary>Starts the coordinator node and one worker node per throttle factor (1 = full speed).</summary>
    /// <param name="plan">The run plan.</param>
    /// <param name="throttles">One worker node per entry, slowed by that factor.</param>
    /// <param name="extraWorker">An additional (misbehaving) worker actor.</param>
    /// <param name="tensorLink">Whether the parameter server offers tensor links; if not, tensors travel over Akka.Remote as chunks.</param>
    /// <param name="shardTimeout">How long a shard may take before worker speeds are measured (default 30 s).</param>
    /// <param name="minLiveWorkers">Fewer live workers pause the run (default 1).</param>
    public static InProcessCluster Start(RunPlan plan, IReadOnlyList<double> throttles, Func<ActorSystem, IActorRef, Props>? extraWorker = null, bool tensorLink = true,
        TimeSpan? shardTimeout = null, int minLiveWorkers = 1)
    {
        var cluster = new InProcessCluster { Plan = plan };
        var coordinator = ClusterSetup.Start(new ClusterOptions(ClusterOptions.CoordinatorRole, "127.0.0.1", 0, null, [], TensorLink: tensorLink));
        cluster._systems.Add(coordinator);
        var linkLog = coordinator.ActorOf(Props.Create(() => new LinkLogCollector(cluster.LinkEvents)), "link-log");
        coordinator.EventStream.Subscribe(linkLog, typeof(Akka.Event.Info));
        cluster.CoordinatorSystem = coordinator;
        var akkaCluster = Akka.Cluster.Cluster.Get(coordinator);
        akkaCluster.Join(akkaCluster.SelfAddress);
        cluster.SeedAddress = akkaCluster.SelfAddress.ToString();

        var reporter = coordinator.ActorOf(Props.Create(() => new Collector(cluster.Reports, cluster._completion)), "reporter");
        ClusterSetup.StartSingleton(coordinator, ClusterSetup.ParameterServerName, ParameterServerActor.Props());
        cluster.ParameterServer = ClusterSetup.ParameterServerProxy(coordinator);
        var data = TestPlans.Data;
        ClusterSetup.StartSingleton(coordinator, ClusterSetup.CoordinatorName, CoordinatorActor.Props(
            new CoordinatorSettings(plan, data.Train, data.Test, MinWorkers: throttles.Count + (extraWorker is null ? 0 : 1), MaxWorkers: 16,
                CheckpointDirectory: null, reporter, cluster.ParameterServer)
            {
                ShardTimeout = shardTimeout ?? TimeSpan.FromSeconds(30),
                MinLiveWorkers = minLiveWorkers,
            }));

        for (int i = 0; i < throttles.Count; i++)
        {
            var system = cluster.StartWorkerNode();
            var proxy = ClusterSetup.CoordinatorProxy(system);
            var exit = new TaskCompletionSource<WorkerExit>();
            system.ActorOf(WorkerActor.Props(new WorkerSettings($"worker-{i + 1}", data.Train, data.Fingerprint, 1, proxy,
                TimeSpan.FromSeconds(60), exit, throttles[i])), "worker");
        }
        if (extraWorker is not null)
        {
            var system = cluster.StartWorkerNode();
            system.ActorOf(extraWorker(system, ClusterSetup.CoordinatorProxy(system)), "worker");
        }
        return cluster;
    }

    /// <summary>Starts one more worker node (full speed), as a worker joining mid-run.</summary>
    public void AddWorker(string workerId)
    {
        var system = StartWorkerNode();
        var data = TestPlans.Data;
        system.ActorOf(WorkerActor.Props(new WorkerSettings(workerId, data.Train, data.Fingerprint, 1, ClusterSetup.CoordinatorProxy(system),
            TimeSpan.FromSeconds(60), new TaskCompletionSource<WorkerExit>(), 1.0)), "worker");
    }

    private ActorSystem StartWorkerNode()
    {
        var system = ClusterSetup.Start(new ClusterOptions(ClusterOptions.WorkerRole, "127.0.0.1", 0, null, [SeedAddress]));
        _systems.Add(system);
        return system;
    }

    public async Task<TrainingCompleted> WaitAsync(TimeSpan timeout)
    {
        var finished = await Task.WhenAny(Completion, Task.Delay(timeout));
        if (finished != Completion)
            throw new TimeoutException($"the run did not finish within {timeout.TotalSeconds:F0} s; reports: {string.Join("; ", Reports.Select(r => r.ToString()))}");
        return await Completion;
    }

    /// <summary>Waits until the run's events satisfy <paramref name="condition"/>; throws after <paramref name="timeout"/>.</summary>
    public async Task WaitForEventsAsync(Func<IReadOnlyList<RunEvent>, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition([.. Events]))
        {
            if (DateTime.UtcNow > deadline || Completion.IsCompleted)
                throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds:F0} s; reports: {string.Join("; ", Reports.Select(r => r.ToString()))}");
            await Task.Delay(50);
        }
    }

    public Task<WeightsSnapshot> WeightsAsync() =>
        ParameterServer.Ask<WeightsSnapshot>(new GetWeights(Plan.RunId), TimeSpan.FromSeconds(20));

    public void Dispose()
    {
        Task.WaitAll([.. _systems.Select(s => s.Terminate())], TimeSpan.FromSeconds(20));
    }

    private sealed class LinkLogCollector : ReceiveActor
    {
        public LinkLogCollector(ConcurrentQueue<string> events) =>
            Receive<Akka.Event.Info>(i =>
            {
                string text = i.ToString();
                if (text.Contains("Tensor link", StringComparison.Ordinal)) events.Enqueue(text);
            });
    }

    private sealed class Collector : ReceiveActor
    {
        public Collector(ConcurrentQueue<object> reports, TaskCompletionSource<TrainingCompleted> completion)
        {
            Receive<TrainingCompleted>(c => { reports.Enqueue(c); completion.TrySetResult(c); });
            Receive<TrainingFailed>(f => { reports.Enqueue(f); completion.TrySetException(new InvalidOperationException(f.Reason)); });
            Receive<EpochEnded>(e => { reports.Enqueue(e); Sender.Tell(new EpochRecorded(e.RunId, e.Metrics.Epoch)); });
            ReceiveAny(reports.Enqueue);
        }
    }
}
