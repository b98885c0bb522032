using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Distributed.Messages.Hosting;

namespace Distributed.Coordinator.Coordination;

/// <summary>
/// Measures what cluster heartbeats experience: every 200 ms it sends an <see cref="Identify"/>
/// over Akka.Remote to each worker node and records the round trip. The message shares the node
/// pair's single Akka.Remote connection with everything else, so a tensor burst queued on that
/// connection shows up as a long round trip. Logs p50 / p99 / max when stopped.
/// </summary>
public sealed class RemoteLatencyProbe : ReceiveActor, IWithTimers
{
    private const int MaxSamples = 100_000;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly HashSet<Address> _workers = [];
    private readonly Dictionary<long, long> _sent = [];
    private readonly List<double> _roundTrips = [];
    private long _next;

    private sealed class Tick { public static readonly Tick Instance = new(); }

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for the probe.</summary>
    public static Props Props() => Akka.Actor.Props.Create(() => new RemoteLatencyProbe());

    /// <summary>Creates the probe; use <see cref="Props"/>.</summary>
    public RemoteLatencyProbe()
    {
        Receive<ClusterEvent.CurrentClusterState>(s =>
        {
            foreach (var m in s.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole(ClusterOptions.WorkerRole))) _workers.Add(m.Address);
        });
        Receive<ClusterEvent.MemberUp>(up => { if (up.Member.HasRole(ClusterOptions.WorkerRole)) _workers.Add(up.Member.Address); });
        Receive<ClusterEvent.MemberRemoved>(r => _workers.Remove(r.Member.Address));
        Receive<Tick>(_ => Ping());
        Receive<ActorIdentity>(OnReply);
    }

    /// <inheritdoc/>
    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.InitialStateAsSnapshot, typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
        Timers.StartPeriodicTimer("ping", Tick.Instance, TimeSpan.FromMilliseconds(200));
    }

    private void Ping()
    {
        // Replies that never came (node gone) are forgotten after a while.
        if (_sent.Count > 1000) _sent.Clear();
        foreach (var address in _workers)
        {
            long id = ++_next;
            _sent[id] = Stopwatch.GetTimestamp();
            Context.ActorSelection(new RootActorPath(address) / "user" / "worker").Tell(new Identify(id));
        }
    }

    private void OnReply(ActorIdentity identity)
    {
        if (identity.MessageId is not long id || !_sent.Remove(id, out long start)) return;
        if (_roundTrips.Count < MaxSamples) _roundTrips.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }

    /// <inheritdoc/>
    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        if (_roundTrips.Count == 0) return;
        _roundTrips.Sort();
        double Percentile(double p) => _roundTrips[Math.Min(_roundTrips.Count - 1, (int)(p * _roundTrips.Count))];
        _log.Info("Akka.Remote round trip to workers during the run (what heartbeats wait behind): {Count} pings, p50 {P50:F1} ms, p99 {P99:F1} ms, max {Max:F1} ms",
            _roundTrips.Count, Percentile(0.5), Percentile(0.99), _roundTrips[^1]);
    }
}
