using Distributed.Messages.Hosting;

namespace Distributed.Messages.Security;

/// <summary>
/// The start-up decision every executable makes the same way: load <c>--tls-dir</c>, check that the node's
/// certificate names the address other nodes will dial, or accept <c>--insecure</c> with a warning when the
/// address is reachable from other machines.
/// </summary>
public static class NodeSecurity
{
    /// <summary>Refuses <c>--tls-dir</c> together with <c>--insecure</c>.</summary>
    /// <exception cref="UsageException">Both were given.</exception>
    public static void RequireOneChoice(string? tlsDirectory, bool insecure)
    {
        if (tlsDirectory is not null && insecure)
            throw new UsageException("--tls-dir and --insecure exclude each other: TLS is either on (with the certificates in --tls-dir) or off");
    }

    /// <summary>The warning for a node without TLS bound to an address other machines can reach, or null when there is nothing to warn about.</summary>
    /// <param name="tls">The node's TLS material, or null without TLS.</param>
    /// <param name="host">The address the node binds.</param>
    /// <param name="port">The port it binds (0: any).</param>
    public static string? InsecureWarning(NodeTls? tls, string host, int port) =>
        tls is null && !ClusterAddress.IsLoopback(host) ? InsecureWarning(host, port) : null;

    /// <summary>The warning printed when a node runs without TLS on an address other machines can reach.</summary>
    public static string InsecureWarning(string host, int port) =>
        $"WARNING: --insecure on {host}: TLS is off, so anyone who can reach port {(port == 0 ? "(any)" : port.ToString(System.Globalization.CultureInfo.InvariantCulture))} " +
        "can join this cluster, read the weights and send it messages. Use --tls-dir outside loopback experiments.";

    /// <summary>Loads the node's TLS material, or returns null without TLS.</summary>
    /// <param name="tlsDirectory">The node's <c>--tls-dir</c>, or null.</param>
    /// <param name="publicHost">The address other nodes dial (<c>--public-hostname</c>, else <c>--host</c>); the certificate must name it.</param>
    /// <exception cref="UsageException">Bad or missing files, or a certificate that does not name <paramref name="publicHost"/>.</exception>
    public static NodeTls? Load(string? tlsDirectory, string publicHost)
    {
        if (tlsDirectory is null) return null;
        var tls = NodeTls.Load(tlsDirectory);
        if (!tls.Covers(publicHost))
        {
            string names = string.Join(", ", tls.Names);
            tls.Dispose();
            throw new UsageException(
                $"--tls-dir {tlsDirectory}: the certificate names {names}, but other nodes reach this one as '{publicHost}' and would refuse it; " +
                $"pass --public-hostname with one of those names, or issue a certificate for it with 'certs issue --ca CA_DIR --hosts {publicHost}'");
        }
        return tls;
    }
}
