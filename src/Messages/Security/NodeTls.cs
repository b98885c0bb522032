using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Distributed.Messages.Hosting;

namespace Distributed.Messages.Security;

/// <summary>
/// A node's TLS material, loaded from its <c>--tls-dir</c> (see <see cref="CertificateAuthority"/>): its
/// own certificate and key, and the CA bundle it trusts. One policy for Akka.Remote and the tensor links:
/// TLS 1.2 or 1.3, both sides present a certificate, a peer is accepted only if its certificate chains to
/// the bundle (the system's root store plays no part), is within its validity period, and, when this node
/// dialled it, names the host it dialled.
/// </summary>
public sealed class NodeTls : IDisposable
{
    private readonly X509Certificate2Collection _roots;

    private NodeTls(string directory, X509Certificate2 certificate, X509Certificate2Collection roots)
    {
        Directory = directory;
        Certificate = certificate;
        _roots = roots;
    }

    /// <summary>The folder the material came from.</summary>
    public string Directory { get; }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The DNS names and IP addresses this node's certificate is valid for.</summary>
    public IReadOnlyList<string> Names => SubjectNames(Certificate);

    /// <summary>Loads and checks <c>ca.crt</c>, <c>node.crt</c> and <c>node.key</c> from <paramref name="directory"/>.</summary>
    /// <exception cref="UsageException">A file is missing or unreadable, the key does not match, or the certificate does not chain to the bundle or has expired; the message names the file and the fix.</exception>
    public static NodeTls Load(string directory)
    {
        string caPath = Path.Combine(directory, CertificateAuthority.CaCertificateFile);
        string certPath = Path.Combine(directory, CertificateAuthority.NodeCertificateFile);
        string keyPath = Path.Combine(directory, CertificateAuthority.NodeKeyFile);
        foreach (string path in new[] { caPath, certPath, keyPath })
            if (!File.Exists(path))
                throw new UsageException($"--tls-dir {directory}: {Path.GetFileName(path)} is missing; create the files with 'certs init --out DIR --hosts HOST,...' and pass --tls-dir DIR/HOST");
        var roots = new X509Certificate2Collection();
        try { roots.ImportFromPemFile(caPath); }
        catch (CryptographicException e) { throw new UsageException($"--tls-dir {directory}: {CertificateAuthority.CaCertificateFile} is not a PEM certificate bundle: {e.Message}"); }
        if (roots.Count == 0) throw new UsageException($"--tls-dir {directory}: {CertificateAuthority.CaCertificateFile} holds no certificate");
        X509Certificate2 certificate;
        try { certificate = X509Certificate2.CreateFromPemFile(certPath, keyPath); }
        catch (CryptographicException e)
        {
            throw new UsageException($"--tls-dir {directory}: {CertificateAuthority.NodeCertificateFile} and {CertificateAuthority.NodeKeyFile} are not a matching PEM certificate and key: {e.Message}");
        }
        var tls = new NodeTls(directory, certificate, roots);
        if (!tls.Verify(certificate, out string reason))
        {
            tls.Dispose();
            throw new UsageException($"--tls-dir {directory}: this node's own certificate is not acceptable: {reason}");
        }
        return tls;
    }

    private volatile string? _lastRefusal;

    /// <summary>Why the most recent peer was refused (for a node that cannot join to explain itself), or null.</summary>
    public string? LastRefusal => _lastRefusal;

    private volatile string? _handshakeFailure;

    /// <summary>Records a failed TLS handshake reported by the transport (see <see cref="TlsFailureListener"/>); the first line is kept.</summary>
    public void RecordHandshakeFailure(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        // Akka.Remote's report spans lines: the channel, then "Error: <the exception>", then advice.
        string[] lines = message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        string? error = lines.FirstOrDefault(l => l.StartsWith("Error:", StringComparison.Ordinal));
        _handshakeFailure ??= error is null ? lines.FirstOrDefault() ?? message : error["Error:".Length..].Trim();
    }

    /// <summary>What to tell the user of a node that could not join or was shut down: the refusal seen here, a failed handshake, or what to check.</summary>
    public string FailureHint()
    {
        const string Fix = "every node needs a certificate from the same CA ('certs init') that names its --public-hostname";
        if (LastRefusal is { } refusal) return $"TLS refused the connection: {refusal}; {Fix}";
        if (_handshakeFailure is { } failure)
            return $"TLS refused the connection: the handshake failed ({failure}), so the other node refused this node's certificate (another CA?); {Fix}";
        return $"TLS is on (--tls-dir {Directory}) and a node that refuses this one's certificate (another CA, or a name that does not match) looks the same: {Fix}";
    }

    /// <summary>Whether this node's certificate names <paramref name="host"/> (exactly, case-insensitive; IP addresses compared as addresses).</summary>
    public bool Covers(string host) => Covers(Certificate, host);

    /// <summary>
    /// The peer check used by every TLS handshake of this node: a certificate is required, it must chain to the
    /// trusted bundle, and a host-name mismatch reported by the handshake (outbound connections) rejects it.
    /// </summary>
    /// <param name="certificate">The peer's certificate, or null if it sent none.</param>
    /// <param name="errors">What the TLS stack found; chain errors are ignored (the bundle is checked here), a name mismatch is not.</param>
    /// <param name="reason">Why the peer was rejected.</param>
    public bool Accepts(X509Certificate? certificate, SslPolicyErrors errors, out string reason)
    {
        bool accepted = Check(certificate, errors, out reason);
        if (!accepted) _lastRefusal = reason;
        return accepted;
    }

    private bool Check(X509Certificate? certificate, SslPolicyErrors errors, out string reason)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            reason = "the peer presented no certificate";
            return false;
        }
        var peer = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (!Verify(peer, out reason)) return false;
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            reason = $"its certificate ({peer.Subject}) does not name the host this node connected to; it names {string.Join(", ", SubjectNames(peer))}";
            return false;
        }
        return true;
    }

    /// <summary>TLS options for the server end of a tensor link (client certificate required).</summary>
    public SslServerAuthenticationOptions ServerOptions(Action<string> onRejected) => new()
    {
        ServerCertificate = Certificate,
        ClientCertificateRequired = true,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, _, errors) => Report(cert, errors, onRejected),
    };

    /// <summary>TLS options for the client end of a tensor link to <paramref name="host"/>.</summary>
    public SslClientAuthenticationOptions ClientOptions(string host, Action<string> onRejected) => new()
    {
        TargetHost = host,
        ClientCertificates = [Certificate],
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, _, errors) => Report(cert, errors, onRejected),
    };

    private bool Report(X509Certificate? cert, SslPolicyErrors errors, Action<string> onRejected)
    {
        if (Accepts(cert, errors, out string reason)) return true;
        onRejected(reason);
        return false;
    }

    // Chain to the bundle only: CustomRootTrust ignores the machine's root store, so a certificate from any
    // public CA (or another cluster's CA) is refused. No revocation lists exist for a private cluster CA;
    // rotation (docs/security.md) replaces compromised material instead.
    private bool Verify(X509Certificate2 certificate, out string reason)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        if (chain.Build(certificate))
        {
            reason = "";
            return true;
        }
        var statuses = chain.ChainStatus.Select(s => s.Status).Distinct().ToArray();
        reason = statuses.Contains(X509ChainStatusFlags.UntrustedRoot) || statuses.Contains(X509ChainStatusFlags.PartialChain)
            ? $"its certificate ({certificate.Subject}, issued by {certificate.Issuer}) is not from this cluster's CA"
            : statuses.Contains(X509ChainStatusFlags.NotTimeValid)
                ? $"its certificate ({certificate.Subject}) is outside its validity period ({certificate.NotBefore:u} to {certificate.NotAfter:u})"
                : $"its certificate ({certificate.Subject}) failed validation: {string.Join(", ", statuses)}";
        return false;
    }

    private static bool Covers(X509Certificate2 certificate, string host)
    {
        bool isIp = IPAddress.TryParse(host, out var ip);
        foreach (string name in SubjectNames(certificate))
        {
            if (isIp && IPAddress.TryParse(name, out var other) && other.Equals(ip)) return true;
            if (!isIp && string.Equals(name, host, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    private static List<string> SubjectNames(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is not X509SubjectAlternativeNameExtension san) continue;
            names.AddRange(san.EnumerateDnsNames());
            names.AddRange(san.EnumerateIPAddresses().Select(a => a.ToString()));
        }
        return names;
    }

    /// <summary>Releases the certificates.</summary>
    public void Dispose()
    {
        Certificate.Dispose();
        foreach (var root in _roots) root.Dispose();
    }
}
