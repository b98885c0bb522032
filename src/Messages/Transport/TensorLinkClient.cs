using System.Net.Sockets;
using System.Security.Authentication;
using Akka.Actor;
using Distributed.Messages.Protocol;
using Distributed.Messages.Security;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Transport;

/// <summary>
/// A worker's end of its tensor link to the parameter server (see <see cref="TensorLinkServer"/>):
/// connects to the offered address, presents the offered token, then tells every decoded message
/// (weight broadcasts) to the owner actor with the parameter server as sender.
/// </summary>
public sealed class TensorLinkClient : IDisposable
{
    private readonly TensorLinkConnection _connection;

    private TensorLinkClient(TensorLinkConnection connection) => _connection = connection;

    /// <summary>Whether the link is still usable.</summary>
    public bool IsOpen => _connection.IsOpen;

    /// <summary>Connects, sends the hello and starts receiving.</summary>
    /// <param name="offer">The parameter server's offer (address, port, token).</param>
    /// <param name="owner">Receives decoded messages.</param>
    /// <param name="parameterServer">The sender the owner sees on those messages.</param>
    /// <param name="maxBodyBytes">Largest frame body accepted (derived from the model's size).</param>
    /// <param name="onClosed">Called once if the link ends other than by <see cref="Dispose"/>, with the reason (null for an orderly close).</param>
    /// <param name="timeout">Connect and hello time-out.</param>
    /// <param name="tls">With TLS, a mutual TLS handshake (the server's certificate must come from the cluster CA and name <see cref="TensorLinkOffered.Host"/>) precedes the hello.</param>
    /// <exception cref="SocketException">The address cannot be reached.</exception>
    /// <exception cref="AuthenticationException">The TLS handshake failed; the message says why.</exception>
    /// <exception cref="OperationCanceledException">The time-out passed.</exception>
    /// <exception cref="FormatException">The offer's token is not base64.</exception>
    public static async Task<TensorLinkClient> ConnectAsync(TensorLinkOffered offer, IActorRef owner, IActorRef parameterServer,
        long maxBodyBytes, Action<string?> onClosed, TimeSpan timeout, NodeTls? tls = null)
    {
        byte[] hello = TensorLinkFrame.EncodeHello(offer.RunId, Convert.FromBase64String(offer.Token));
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(offer.Host, offer.Port, cancel.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var connection = new TensorLinkConnection(socket, maxBodyBytes);
        try
        {
            if (tls is not null)
            {
                string? refused = null;
                try { await connection.AuthenticateAsClientAsync(tls.ClientOptions(offer.Host, r => refused = r), cancel.Token).ConfigureAwait(false); }
                catch (AuthenticationException e) when (refused is not null) { throw new AuthenticationException($"TLS refused the parameter server at {offer.Host}:{offer.Port}: {refused}", e); }
            }
            await connection.SendHelloAsync(hello, cancel.Token).ConfigureAwait(false);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        connection.Start(message => owner.Tell(message, parameterServer), onClosed);
        return new TensorLinkClient(connection);
    }

    /// <summary>Encodes and queues a message for the parameter server.</summary>
    /// <returns>False if the link is closed or congested (send over Akka.Remote instead).</returns>
    public bool TrySend(ITensorMessage message)
    {
        if (!_connection.IsOpen) return false;
        var frame = TensorCodec.EncodePooled(message);
        try { return _connection.TrySend(TensorLinkFrame.KindOf(message), frame); }
        finally { frame.Release(); }
    }

    /// <summary>Queues an already encoded message (e.g. <see cref="TensorCodec.EncodeGradientTailPooled"/>); thread-safe.</summary>
    /// <param name="kind">Its frame kind.</param>
    /// <param name="frame">The encoding; the caller keeps its own hold and releases it as usual.</param>
    /// <returns>False if the link is closed or congested.</returns>
    public bool TrySend(byte kind, EncodedFrame frame) => _connection.TrySend(kind, frame);

    /// <summary>Closes the link.</summary>
    public void Dispose() => _connection.Dispose();
}
