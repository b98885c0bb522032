using Akka.Actor;
using Akka.Event;

namespace Distributed.Messages.Security;

/// <summary>
/// Watches a TLS node's event stream for Akka.Remote's "TLS handshake failed" errors and records the first line on
/// the node's <see cref="NodeTls"/>, so that a node whose certificate the other side refused (which this side's own
/// check never sees) can still say why it could not join.
/// </summary>
public sealed class TlsFailureListener : ReceiveActor
{
    /// <summary>Creates the listener and subscribes it to errors.</summary>
    public TlsFailureListener(NodeTls tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        Receive<Error>(e =>
        {
            string text = e.Message?.ToString() ?? "";
            if (text.Contains("TLS handshake failed", StringComparison.Ordinal)) tls.RecordHandshakeFailure(text);
        });
    }

    /// <inheritdoc/>
    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(Error));

    /// <summary>Props for the listener.</summary>
    public static Props Props(NodeTls tls) => Akka.Actor.Props.Create(() => new TlsFailureListener(tls));
}
