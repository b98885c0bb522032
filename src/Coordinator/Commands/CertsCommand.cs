using Distributed.Messages.Hosting;
using Distributed.Messages.Security;

namespace Distributed.Coordinator.Commands;

/// <summary><c>certs init|issue</c>: the cluster's certificate authority and one certificate per node, for <c>--tls-dir</c>.</summary>
public static class CertsCommand
{
    /// <summary>Usage text.</summary>
    public const string Help = """
        Usage: certs init --out DIR [--hosts a,b,c] [--days N]
               certs issue --ca DIR --hosts a,b [--out DIR] [--days N]

        Creates what mutual TLS between the nodes needs (see docs/security.md).
          init    a new cluster CA in DIR (ca.crt, ca.key) and, for each host, DIR/HOST/ with ca.crt,
                  node.crt and node.key; run each node with --tls-dir DIR/HOST
          issue   new node certificates from the CA in --ca (a node added later, or rotation)
          --hosts host names or IP addresses the nodes are reached at (their --public-hostname), comma
                  separated (default localhost; a loopback name also covers 127.0.0.1 and ::1)
          --days  validity in days (default 825)

        Copy only DIR/HOST to each machine; keep DIR/ca.key off the nodes.
        Example: certs init --out certs --hosts 10.0.0.1,10.0.0.2,10.0.0.3
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(ArgumentReader reader, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(output);
        string verb = reader.Arguments.Count > 0 && !reader.Arguments[0].StartsWith("--", StringComparison.Ordinal)
            ? reader.Arguments[0]
            : throw new UsageException("certs needs one of: init, issue (see certs --help)");
        reader = new ArgumentReader(reader.Arguments.Skip(1));
        string hostsText = reader.String("--hosts", "localhost")!;
        string[] hosts = hostsText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int days = reader.Int("--days", 825, 1, 3650);
        IReadOnlyList<string> written;
        switch (verb)
        {
            case "init":
                string outDir = reader.String("--out") ?? throw new UsageException("certs init needs --out DIR, the folder for the CA and the node certificates");
                reader.EnsureAllConsumed(["--out", "--hosts", "--days"]);
                written = CertificateAuthority.Init(outDir, hosts, days);
                output.WriteLine($"CA: {Path.Combine(outDir, CertificateAuthority.CaCertificateFile)} (its key {Path.Combine(outDir, CertificateAuthority.CaKeyFile)} stays here, off the nodes)");
                break;
            case "issue":
                string ca = reader.String("--ca") ?? throw new UsageException("certs issue needs --ca DIR, the folder of 'certs init'");
                string? into = reader.String("--out");
                reader.EnsureAllConsumed(["--ca", "--out", "--hosts", "--days"]);
                written = CertificateAuthority.Issue(ca, hosts, days, into);
                break;
            default:
                throw new UsageException($"unknown certs command '{verb}'; use init or issue");
        }
        foreach (string dir in written)
            output.WriteLine($"node certificate: {dir} (run that node with --tls-dir {dir})");
        return ExitCodes.Ok;
    }
}
