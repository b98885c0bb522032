using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Serialization;
using System.Security.Authentication;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Distributed.Messages.Protocol;
using Distributed.Messages.Security;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Transport;

/// <summary>
/// The parameter server's end of the tensor links: a TCP listener that workers connect to after
/// a <see cref="TensorLinkOffered"/>. A connection is bound to a worker only if its hello carries
/// the run id and the 32-byte random token that was offered to that worker over Akka.Remote; any
/// other connection is closed. Decoded gradient shards are told to the owner actor with the worker
/// as sender, exactly as if they had come over Akka.Remote.
/// </summary>
/// <remarks>
/// Why a separate channel: Akka.Remote carries all traffic between two nodes over one connection
/// and copies every payload several times (serializer, protobuf envelope, transport buffer), each copy
/// into freshly allocated large-object memory. Tensors (megabytes per iteration per worker) on their
/// own socket cost one encode and one decode, and cannot delay Akka's heartbeats.
/// </remarks>
public sealed class TensorLinkServer : IDisposable
{
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Messages a worker's link may have delivered to the owner that it has not yet handled (<see cref="Consumed"/>):
    /// an honest worker has one or two in flight (a gradient tail, then its shard); a flooding one is stopped here.
    /// </summary>
    public const int UnconsumedLimit = 8;

    private readonly Socket _listener;
    private readonly IActorRef _owner;
    private readonly ILoggingAdapter _log;
    private readonly string _runId;
    private readonly long _maxBodyBytes;
    private readonly NodeTls? _tls;
    private readonly ConcurrentDictionary<IActorRef, byte[]> _tokens = new();
    private readonly ConcurrentDictionary<IActorRef, TensorLinkConnection> _links = new();
    private readonly CancellationTokenSource _stop = new();

    private TensorLinkServer(Socket listener, string publicHost, string runId, IActorRef owner, ILoggingAdapter log, long maxBodyBytes, NodeTls? tls)
    {
        _tls = tls;
        _listener = listener;
        _runId = runId;
        _owner = owner;
        _log = log;
        _maxBodyBytes = maxBodyBytes;
        PublicHost = publicHost;
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>The host name workers are told to connect to.</summary>
    public string PublicHost { get; }

    /// <summary>The port the listener is bound to.</summary>
    public int Port { get; }

    /// <summary>Number of workers with an established link.</summary>
    public int ConnectedCount => _links.Count(l => l.Value.IsOpen);

    /// <summary>Binds the listener and starts accepting.</summary>
    /// <param name="bindHost">Address or host name to listen on (the node's <c>--host</c>).</param>
    /// <param name="port">TCP port; 0 picks a free one.</param>
    /// <param name="publicHost">The name workers connect to (the node's <c>--public-hostname</c>).</param>
    /// <param name="runId">Only hellos for this run are accepted.</param>
    /// <param name="owner">Receives decoded messages, with the bound worker as sender.</param>
    /// <param name="log">Where connection events are logged.</param>
    /// <param name="maxBodyBytes">Largest frame body accepted from a worker (derived from the model's size).</param>
    /// <param name="tls">With TLS, every connection must complete a mutual TLS handshake with a certificate from the cluster CA before its hello is read.</param>
    /// <exception cref="SocketException">The address cannot be bound (e.g. the port is taken).</exception>
    public static TensorLinkServer Start(string bindHost, int port, string publicHost, string runId, IActorRef owner, ILoggingAdapter log, long maxBodyBytes,
        NodeTls? tls = null)
    {
        var address = IPAddress.TryParse(bindHost, out var ip) ? ip : Dns.GetHostAddresses(bindHost).First(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        var server = new TensorLinkServer(listener, publicHost, runId, owner, log, maxBodyBytes, tls);
        _ = Task.Run(server.AcceptLoopAsync);
        return server;
    }

    /// <summary>Creates a fresh token for <paramref name="worker"/> (replacing any earlier one) and returns the offer to tell it.</summary>
    public TensorLinkOffered Offer(IActorRef worker)
    {
        byte[] token = RandomNumberGenerator.GetBytes(TensorLinkFrame.TokenBytes);
        _tokens[worker] = token;
        return new TensorLinkOffered(_runId, PublicHost, Port, Convert.ToBase64String(token));
    }

    /// <summary>The owner has handled a message from <paramref name="worker"/>: its link may read one more.</summary>
    public void Consumed(IActorRef worker)
    {
        if (_links.TryGetValue(worker, out var link)) link.Consumed();
    }

    /// <summary>Closes and forgets the link of a worker that left the run.</summary>
    public void Forget(IActorRef worker)
    {
        _tokens.TryRemove(worker, out _);
        if (_links.TryRemove(worker, out var link)) link.Dispose();
    }

    /// <summary>Queues an encoded message for <paramref name="worker"/>.</summary>
    /// <returns>False if the worker has no open link (send over Akka.Remote instead).</returns>
    public bool TrySend(IActorRef worker, byte kind, byte[] body) =>
        _links.TryGetValue(worker, out var link) && link.TrySend(kind, body);

    /// <summary>Queues a pooled encoded message for <paramref name="worker"/>; the link holds the frame until it is written.</summary>
    /// <returns>False if the worker has no open link (send over Akka.Remote instead).</returns>
    public bool TrySend(IActorRef worker, byte kind, EncodedFrame frame) =>
        _links.TryGetValue(worker, out var link) && link.TrySend(kind, frame);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { return; }
            catch (SocketException e)
            {
                _log.Warning("Tensor link: accept failed: {0}", e.Message);
                continue;
            }
            _ = Task.Run(() => HandshakeAsync(socket));
        }
    }

    private async Task HandshakeAsync(Socket socket)
    {
        var connection = new TensorLinkConnection(socket, _maxBodyBytes, UnconsumedLimit);
        string peer = connection.Peer;
        string? refused = null; // why our certificate check refused the peer, when it did
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(HelloTimeout);
            if (_tls is not null)
                await connection.AuthenticateAsServerAsync(_tls.ServerOptions(reason => refused = reason), timeout.Token).ConfigureAwait(false);
            var (runId, token) = await connection.ReadHelloAsync(timeout.Token).ConfigureAwait(false);
            var worker = runId == _runId ? FindWorker(token) : null;
            if (worker is null)
            {
                _log.Warning("Tensor link: refused a connection from {0}: {1}", peer, runId == _runId ? "unknown token" : $"run '{runId}' is not this run");
                connection.Dispose();
                return;
            }
            if (_links.TryGetValue(worker, out var old)) old.Dispose();
            _links[worker] = connection;
            connection.Start(message => _owner.Tell(message, worker), reason => OnClosed(worker, connection, reason));
            _log.Info("Tensor link: worker {0} connected from {1}", worker.Path, peer);
        }
        catch (AuthenticationException e)
        {
            _log.Warning("Tensor link: TLS refused a connection from {0}: {1}", peer, refused ?? Reason(e));
            connection.Dispose();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or SerializationException or EndOfStreamException or ObjectDisposedException)
        {
            _log.Warning("Tensor link: dropped a connection from {0} before its hello: {1}", peer, e is OperationCanceledException ? "no hello within 10 s" : e.Message);
            connection.Dispose();
        }
    }

    private static string Reason(Exception e) => e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;

    private IActorRef? FindWorker(byte[] token)
    {
        foreach (var (worker, expected) in _tokens)
            if (CryptographicOperations.FixedTimeEquals(expected, token))
                return worker;
        return null;
    }

    private void OnClosed(IActorRef worker, TensorLinkConnection connection, string? reason)
    {
        _links.TryRemove(new KeyValuePair<IActorRef, TensorLinkConnection>(worker, connection));
        if (_stop.IsCancellationRequested) return;
        if (reason is null) _log.Info("Tensor link: worker {0} closed its link", worker.Path);
        else _log.Warning("Tensor link: link to worker {0} failed: {1}; its tensors go over Akka.Remote", worker.Path, reason);
    }

    /// <summary>Stops listening and closes every link.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _listener.Dispose();
        foreach (var link in _links.Values) link.Dispose();
        _links.Clear();
    }
}
