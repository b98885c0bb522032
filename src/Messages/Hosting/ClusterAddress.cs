using System.Globalization;

namespace Distributed.Messages.Hosting;

/// <summary>
/// Node addresses as users type them (<c>--seed-node</c>): <c>akka.tcp://distributed@HOST:PORT</c>,
/// <c>akka.ssl.tcp://distributed@HOST:PORT</c> or just <c>HOST:PORT</c>.
/// </summary>
public static class ClusterAddress
{
    /// <summary>Scheme of a node without TLS.</summary>
    public const string PlainScheme = "akka.tcp";

    /// <summary>Scheme of a node with TLS (Akka.Remote's DotNetty transport with <c>enable-ssl</c>).</summary>
    public const string TlsScheme = "akka.ssl.tcp";

    /// <summary>
    /// The canonical address of <paramref name="text"/> for a node that runs with or without TLS: a TLS node can
    /// only reach TLS nodes, so the scheme follows <paramref name="tls"/> whatever was typed.
    /// </summary>
    /// <param name="text">The address as given.</param>
    /// <param name="tls">Whether the node that will dial it runs TLS.</param>
    /// <param name="option">The option name for the error message.</param>
    /// <exception cref="UsageException">Not an address of this cluster's actor system.</exception>
    public static string Normalize(string text, bool tls, string option = "--seed-node")
    {
        string rest = text;
        foreach (string scheme in new[] { TlsScheme, PlainScheme })
        {
            string prefix = scheme + "://";
            if (!rest.StartsWith(prefix, StringComparison.Ordinal)) continue;
            rest = rest[prefix.Length..];
            string system = ClusterOptions.SystemName + "@";
            if (!rest.StartsWith(system, StringComparison.Ordinal))
                throw new UsageException($"{option} '{text}' names another actor system; it must look like {Example(tls)}");
            rest = rest[system.Length..];
            break;
        }
        int colon = rest.LastIndexOf(':');
        if (colon <= 0 || colon == rest.Length - 1 || rest.Contains('/') || rest.Contains('@')
            || !int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new UsageException($"{option} must look like {Example(tls)} (or HOST:PORT), got '{text}'");
        return $"{(tls ? TlsScheme : PlainScheme)}://{ClusterOptions.SystemName}@{rest[..colon]}:{port}";
    }

    /// <summary>Whether <paramref name="host"/> is a loopback name or address (only this machine can reach it).</summary>
    public static bool IsLoopback(string host) =>
        host == "localhost" || (System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip));

    /// <summary>An example address for help and error messages.</summary>
    public static string Example(bool tls) => $"{(tls ? TlsScheme : PlainScheme)}://{ClusterOptions.SystemName}@HOST:PORT";
}
