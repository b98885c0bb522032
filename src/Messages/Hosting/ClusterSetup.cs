using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Distributed.Messages.Security;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Hosting;

/// <summary>
/// The one place where a node's actor system is configured: remoting, cluster membership,
/// downing, serializers, logging, and the singleton proxies every node uses.
/// </summary>
public static class ClusterSetup
{
    /// <summary>Path of the coordinator singleton manager.</summary>
    public const string CoordinatorName = "coordinator";

    /// <summary>Path of the parameter-server singleton manager.</summary>
    public const string ParameterServerName = "parameter-server";

    /// <summary>
    /// The mailbox of every actor other nodes talk to (coordinator, parameter server, worker): at most
    /// <see cref="PeerMailboxCapacity"/> messages wait; beyond that new ones go to dead letters at once (logged),
    /// so a peer that floods an actor faster than it works cannot grow its queue, and the memory it holds,
    /// without bound (each message is at most one 1 MiB frame, or one tensor-link frame). Deque-based, so
    /// actors that stash can use it.
    /// </summary>
    public const string PeerMailbox = "distributed.peer-mailbox";

    /// <summary>Messages a <see cref="PeerMailbox"/> holds; a run needs a few per worker and iteration (or ~40 chunks per worker without tensor links).</summary>
    public const int PeerMailboxCapacity = 4096;

    /// <summary>The HOCON for a node.</summary>
    public static Config BuildConfig(ClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string seeds = string.Join(", ", options.SeedNodes.Select(s => "\"" + s + "\""));
        string publicHost = options.PublicHostname ?? options.Host;
        // Split brain resolver: keep-majority counted over the coordinator-role nodes only, so the side of
        // a partition with the coordinator (or with most coordinator nodes) stays and the other side is
        // downed after stable-after, however many workers it holds: workers cut off from the coordinator
        // cannot train anyway, and no flaky view of one worker can down the coordinator. Fail-over to a
        // standby (train --standby) therefore needs a majority of coordinator nodes to survive: two standbys
        // (three coordinator nodes) survive the first one's crash; with one, the tie goes to the side with
        // the lowest address. (keep-oldest with down-if-alone would let one standby take over, but also lets
        // workers that briefly cannot see a live coordinator down it.) Heartbeats tolerate the pauses of a
        // busy worker.
        var hocon = $$"""
            akka {
              loglevel = INFO
              stdout-loglevel = OFF
              loggers = ["Akka.Logger.Serilog.SerilogLogger, Akka.Logger.Serilog"]
              logger-formatter = "Akka.Logger.Serilog.SerilogLogMessageFormatter, Akka.Logger.Serilog"
              log-dead-letters = 10
              log-dead-letters-during-shutdown = off
              actor.provider = cluster
              remote {
                log-remote-lifecycle-events = off
                dot-netty.tcp {
                  hostname = "{{options.Host}}"
                  public-hostname = "{{publicHost}}"
                  port = {{options.Port}}
                  # Tensors cross as a burst of 256 KiB chunks each iteration: socket buffers of a few
                  # chunks keep the pipe full on a fast link.
                  send-buffer-size = 4194304b
                  receive-buffer-size = 4194304b
                  # With TLS the certificate, the CA bundle and the peer check come from ClusterSetup.Start's
                  # DotNettySslSetup: mutual authentication, chain to the cluster CA only, host names checked.
                  enable-ssl = {{(options.Tls is null ? "off" : "on")}}
                }
              }
              cluster {
                seed-nodes = [{{seeds}}]
                roles = ["{{options.Role}}"]
                min-nr-of-members = 1
                downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                split-brain-resolver {
                  active-strategy = keep-majority
                  keep-majority.role = "{{ClusterOptions.CoordinatorRole}}"
                  stable-after = 15s
                  # Not "down everything after 26 s of changing reachability": with workers killed every few
                  # seconds (the chaos drill) that took the whole cluster down; the coordinator's side goes on
                  # with shard time-outs, and unreachable nodes are downed once membership is stable again.
                  down-all-when-unstable = off
                }
                failure-detector {
                  heartbeat-interval = 1s
                  acceptable-heartbeat-pause = 10s
                }
                singleton.hand-over-retry-interval = 1s
              }
              coordinated-shutdown.exit-clr = off
            }
            {{PeerMailbox}} {
              mailbox-type = "Akka.Dispatch.BoundedDequeBasedMailbox, Akka"
              mailbox-capacity = {{PeerMailboxCapacity}}
              mailbox-push-timeout-time = 0s
            }
            distributed.tensor-link {
              enabled = {{(options.TensorLink ? "on" : "off")}}
              hostname = "{{options.Host}}"
              public-hostname = "{{publicHost}}"
              port = {{options.TensorPort}}
            }
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(SerializationConfig.Hocon);
    }

    /// <summary>Creates the node's actor system (with mutual TLS when <see cref="ClusterOptions.Tls"/> is set).</summary>
    public static ActorSystem Start(ClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = BuildConfig(options);
        if (options.Tls is not { } tls) return ActorSystem.Create(ClusterOptions.SystemName, config);
        ActorSystemSetup setup = BootstrapSetup.Create().WithConfig(config)
            .And(new DotNettySslSetup(tls.Certificate, suppressValidation: false, requireMutualAuthentication: true,
                validateCertificateHostname: true, customValidator: (certificate, _, peer, errors, log) => Accept(tls, certificate, peer, errors, log)))
            .And(new ClusterTlsSetup(tls));
        var system = ActorSystem.Create(ClusterOptions.SystemName, setup);
        system.ActorOf(TlsFailureListener.Props(tls), "tls-failures");
        return system;
    }

    private static bool Accept(NodeTls tls, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate, string peer,
        System.Net.Security.SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (tls.Accepts(certificate, errors, out string reason)) return true;
        log.Warning("TLS: refused {0}: {1}", peer, reason);
        return false;
    }

    /// <summary>A proxy to the coordinator singleton (works from any node).</summary>
    public static IActorRef CoordinatorProxy(ActorSystem system, string name = "coordinator-proxy") =>
        system.ActorOf(ClusterSingletonProxy.Props("/user/" + CoordinatorName,
            ClusterSingletonProxySettings.Create(system).WithRole(ClusterOptions.CoordinatorRole)), name);

    /// <summary>A proxy to the parameter-server singleton (works from any node).</summary>
    public static IActorRef ParameterServerProxy(ActorSystem system, string name = "parameter-server-proxy") =>
        system.ActorOf(ClusterSingletonProxy.Props("/user/" + ParameterServerName,
            ClusterSingletonProxySettings.Create(system).WithRole(ClusterOptions.CoordinatorRole)), name);

    /// <summary>Starts a singleton manager for <paramref name="props"/> on coordinator-role nodes; the singleton gets the <see cref="PeerMailbox"/>.</summary>
    public static IActorRef StartSingleton(ActorSystem system, string name, Props props) =>
        system.ActorOf(ClusterSingletonManager.Props((props ?? throw new ArgumentNullException(nameof(props))).WithMailbox(PeerMailbox), PoisonPill.Instance,
            ClusterSingletonManagerSettings.Create(system).WithRole(ClusterOptions.CoordinatorRole)), name);
}
