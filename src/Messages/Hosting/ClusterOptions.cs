namespace Distributed.Messages.Hosting;

/// <summary>
/// How a node joins the training cluster.
/// </summary>
/// <param name="Role">"coordinator" or "worker".</param>
/// <param name="Host">Address to bind (e.g. 127.0.0.1, 0.0.0.0).</param>
/// <param name="Port">Port to bind; 0 picks a free one.</param>
/// <param name="PublicHostname">Address other nodes use to reach this one (defaults to <paramref name="Host"/>).</param>
/// <param name="SeedNodes">Cluster seed addresses (akka.tcp://distributed@host:port); empty means this node founds the cluster.</param>
/// <param name="TensorLink">Whether a parameter server on this node offers workers a tensor link (see <see cref="Transport.TensorLinkServer"/>).</param>
/// <param name="TensorPort">TCP port of the tensor-link listener on a coordinator node; 0 picks a free one.</param>
/// <param name="Tls">Mutual TLS for Akka.Remote and the tensor links (addresses become <c>akka.ssl.tcp://</c>); null runs without TLS.</param>
public sealed record ClusterOptions(string Role, string Host, int Port, string? PublicHostname, IReadOnlyList<string> SeedNodes,
    bool TensorLink = true, int TensorPort = 0, Security.NodeTls? Tls = null)
{
    /// <summary>The actor system name every node uses.</summary>
    public const string SystemName = "distributed";

    /// <summary>Role of the coordinator and parameter-server nodes.</summary>
    public const string CoordinatorRole = "coordinator";

    /// <summary>Role of the worker nodes.</summary>
    public const string WorkerRole = "worker";
}
