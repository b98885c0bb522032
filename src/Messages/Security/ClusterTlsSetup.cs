using Akka.Actor;
using Akka.Actor.Setup;

namespace Distributed.Messages.Security;

/// <summary>
/// Carries a node's <see cref="NodeTls"/> in its actor system's setup, so actors that open their own
/// sockets (the tensor links of the parameter server and the workers) use the same certificates and
/// policy as Akka.Remote.
/// </summary>
public sealed class ClusterTlsSetup(NodeTls tls) : Setup
{
    /// <summary>The node's TLS material.</summary>
    public NodeTls Tls { get; } = tls;

    /// <summary>The TLS material of <paramref name="system"/>, or null if it runs without TLS.</summary>
    public static NodeTls? Of(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        var setup = system.Settings.Setup.Get<ClusterTlsSetup>();
        return setup.HasValue ? setup.Value.Tls : null;
    }
}
