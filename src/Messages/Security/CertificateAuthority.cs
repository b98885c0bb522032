using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Distributed.Messages.Hosting;

namespace Distributed.Messages.Security;

/// <summary>
/// Creates the cluster's own certificate authority and one certificate per node (<c>certs init</c>,
/// <c>certs issue</c>). Layout written under the output folder:
/// <code>
/// ca.crt  ca.key           the CA (keep ca.key off the nodes; it signs new node certificates)
/// HOST/ca.crt              the CA bundle a node trusts
/// HOST/node.crt node.key   the node's certificate (server and client authentication, SAN = HOST) and key
/// </code>
/// A node runs with <c>--tls-dir OUT/HOST</c>. Keys are ECDSA P-256, PEM-encoded, written with mode 0600.
/// </summary>
public static class CertificateAuthority
{
    /// <summary>File name of the trusted CA bundle (one or more PEM certificates) in a node's folder.</summary>
    public const string CaCertificateFile = "ca.crt";

    /// <summary>File name of the CA's private key in the authority folder.</summary>
    public const string CaKeyFile = "ca.key";

    /// <summary>File name of a node's certificate (PEM).</summary>
    public const string NodeCertificateFile = "node.crt";

    /// <summary>File name of a node's private key (PEM, PKCS#8).</summary>
    public const string NodeKeyFile = "node.key";

    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>Creates a new CA in <paramref name="outDirectory"/> and a certificate for each host.</summary>
    /// <param name="outDirectory">Folder to create; must not already hold a CA.</param>
    /// <param name="hosts">Host names or IP addresses, one node folder each; each certificate names its host (plus <c>localhost</c>/loopback for a loopback host).</param>
    /// <param name="validDays">Validity of every certificate, in days.</param>
    /// <returns>The node folders written.</returns>
    /// <exception cref="UsageException">Invalid host, or the folder already holds a CA.</exception>
    public static IReadOnlyList<string> Init(string outDirectory, IReadOnlyList<string> hosts, int validDays = 825)
    {
        ValidateHosts(hosts);
        string caCert = Path.Combine(outDirectory, CaCertificateFile), caKeyPath = Path.Combine(outDirectory, CaKeyFile);
        if (File.Exists(caCert) || File.Exists(caKeyPath))
            throw new UsageException($"{outDirectory} already holds a CA ({CaCertificateFile}); use 'certs issue --ca {outDirectory}' to add node certificates, or pick a new --out");
        Directory.CreateDirectory(outDirectory);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // A random tag in the name tells two clusters' CAs apart in refusal messages ("issued by ... a41f0c").
        var request = new CertificateRequest(new X500DistinguishedName($"CN=distributed cluster CA {DateTime.UtcNow:yyyy-MM-dd} {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}, O=Distributed"), caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(validDays + 1));
        WritePrivate(caKeyPath, caKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(caCert, ca.ExportCertificatePem() + "\n");
        return Issue(outDirectory, hosts, validDays);
    }

    /// <summary>Issues node certificates from the CA in <paramref name="caDirectory"/> (made by <see cref="Init"/>).</summary>
    /// <param name="caDirectory">Folder with <c>ca.crt</c> and <c>ca.key</c>.</param>
    /// <param name="hosts">Host names or IP addresses; an existing node folder is replaced (certificate rotation).</param>
    /// <param name="validDays">Validity, in days.</param>
    /// <param name="outDirectory">Where the node folders go (default: <paramref name="caDirectory"/>).</param>
    /// <returns>The node folders written.</returns>
    /// <exception cref="UsageException">Missing or unreadable CA, or an invalid host.</exception>
    public static IReadOnlyList<string> Issue(string caDirectory, IReadOnlyList<string> hosts, int validDays = 825, string? outDirectory = null)
    {
        ValidateHosts(hosts);
        outDirectory ??= caDirectory;
        string caCertPath = Path.Combine(caDirectory, CaCertificateFile), caKeyPath = Path.Combine(caDirectory, CaKeyFile);
        if (!File.Exists(caCertPath) || !File.Exists(caKeyPath))
            throw new UsageException($"{caDirectory} holds no CA ({CaCertificateFile} and {CaKeyFile}); create one with 'certs init --out {caDirectory} --hosts ...'");
        X509Certificate2 ca;
        try { ca = X509Certificate2.CreateFromPemFile(caCertPath, caKeyPath); }
        catch (CryptographicException e) { throw new UsageException($"cannot read the CA in {caDirectory}: {e.Message}"); }
        using (ca)
        {
            // The bundle nodes trust is the authority's ca.crt as it is (it may list an old and a new CA during rotation).
            string bundle = File.ReadAllText(caCertPath);
            var written = new List<string>();
            foreach (string host in hosts)
            {
                string dir = Path.Combine(outDirectory, SafeFolderName(host));
                Directory.CreateDirectory(dir);
                using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                using var cert = CreateNodeCertificate(ca, key, host, validDays);
                File.WriteAllText(Path.Combine(dir, CaCertificateFile), bundle);
                File.WriteAllText(Path.Combine(dir, NodeCertificateFile), cert.ExportCertificatePem() + "\n");
                WritePrivate(Path.Combine(dir, NodeKeyFile), key.ExportPkcs8PrivateKeyPem());
                written.Add(dir);
            }
            return written;
        }
    }

    /// <summary>A node certificate for <paramref name="host"/> signed by <paramref name="ca"/>, without its private key attached.</summary>
    internal static X509Certificate2 CreateNodeCertificate(X509Certificate2 ca, ECDsa key, string host, int validDays)
    {
        var request = new CertificateRequest(new X500DistinguishedName($"CN={host}, O=Distributed"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        // Every node both accepts connections and opens them (Akka.Remote associates both ways).
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid), new Oid(ClientAuthOid)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var names = new SubjectAlternativeNameBuilder();
        foreach (string name in NamesFor(host))
        {
            if (IPAddress.TryParse(name, out var ip)) names.AddIpAddress(ip);
            else names.AddDnsName(name);
        }
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        var notAfter = now.AddDays(validDays);
        if (notAfter > ca.NotAfter) notAfter = ca.NotAfter;
        return request.Create(ca, now.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));
    }

    // A loopback node is reached as localhost, 127.0.0.1 or ::1 depending on who dials it.
    private static IEnumerable<string> NamesFor(string host)
    {
        yield return host;
        bool loopback = host == "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
        if (!loopback) yield break;
        foreach (string name in new[] { "localhost", "127.0.0.1", "::1" })
            if (name != host) yield return name;
    }

    private static void ValidateHosts(IReadOnlyList<string> hosts)
    {
        if (hosts.Count == 0) throw new UsageException("--hosts needs at least one host name or IP address, e.g. --hosts 10.0.0.1,10.0.0.2");
        foreach (string host in hosts)
        {
            bool ok = IPAddress.TryParse(host, out _) || Uri.CheckHostName(host) == UriHostNameType.Dns;
            if (!ok || host.Length > 253)
                throw new UsageException($"'{host}' in --hosts is not a host name or IP address");
        }
    }

    private static string SafeFolderName(string host) => host.Replace(':', '_');

    private static void WritePrivate(string path, string pem)
    {
        // Create with 0600 so the key is never readable by others, not even briefly.
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(pem);
        writer.Write('\n');
    }
}
