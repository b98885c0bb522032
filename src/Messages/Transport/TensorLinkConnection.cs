using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.Serialization;
using System.Threading.Channels;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;

namespace Distributed.Messages.Transport;

/// <summary>
/// One established tensor link: a TCP connection with a reader loop that decodes frames and hands
/// each message to a callback, and a writer loop that drains a small queue of encoded frames. The
/// receive buffer is kept and reused, so a steady stream of same-sized tensors allocates only the
/// decoded message. Thread-safe: <see cref="TrySend(byte, EncodedFrame)"/> may be called from any thread.
/// </summary>
public sealed class TensorLinkConnection : IDisposable
{
    /// <summary>Frames queued for sending before <see cref="TrySend(byte, EncodedFrame)"/> refuses (the caller then falls back).</summary>
    public const int QueueCapacity = 16;

    private readonly Socket _socket;
    private Stream _stream;
    private readonly long _maxBodyBytes;
    private readonly Channel<(byte Kind, EncodedFrame Frame)> _queue =
        Channel.CreateBounded<(byte, EncodedFrame)>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim? _credits;
    private int _closed;

    /// <summary>Wraps a connected socket; call <see cref="Start"/> to begin reading and writing.</summary>
    /// <param name="socket">A connected TCP socket; the connection owns it from now on.</param>
    /// <param name="maxBodyBytes">Largest frame body accepted from the peer, in bytes.</param>
    /// <param name="unconsumedLimit">
    /// If positive, at most this many decoded messages may be handed on and not yet reported <see cref="Consumed"/>; the
    /// reader stops reading (TCP then pushes back on the peer) until the owner catches up, so a flooding peer holds at
    /// most this many messages in memory. 0: no limit (for the side whose owner does not report).
    /// </param>
    public TensorLinkConnection(Socket socket, long maxBodyBytes, int unconsumedLimit = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(unconsumedLimit);
        if (unconsumedLimit > 0) _credits = new SemaphoreSlim(unconsumedLimit, unconsumedLimit);
        _socket = socket;
        _socket.NoDelay = true;
        _socket.SendBufferSize = 4 << 20;
        _socket.ReceiveBufferSize = 4 << 20;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _maxBodyBytes = maxBodyBytes;
    }

    /// <summary>Runs the server side of a mutual TLS handshake; afterwards every frame is encrypted. Call before reading the hello.</summary>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The handshake failed (e.g. the peer's certificate was refused).</exception>
    internal Task AuthenticateAsServerAsync(SslServerAuthenticationOptions options, CancellationToken cancel) =>
        Secure().AuthenticateAsServerAsync(options, cancel);

    /// <summary>Runs the client side of a mutual TLS handshake. Call before sending the hello.</summary>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The handshake failed (e.g. the server's certificate was refused).</exception>
    internal Task AuthenticateAsClientAsync(SslClientAuthenticationOptions options, CancellationToken cancel) =>
        Secure().AuthenticateAsClientAsync(options, cancel);

    // Every later read and write goes through the TLS stream; it owns (and disposes) the socket's stream.
    private SslStream Secure()
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        _stream = ssl;
        return ssl;
    }

    /// <summary>The peer's address, for log lines.</summary>
    public string Peer => _socket.RemoteEndPoint?.ToString() ?? "?";

    /// <summary>Whether the connection is still usable.</summary>
    public bool IsOpen => Volatile.Read(ref _closed) == 0;

    /// <summary>Starts the reader and writer loops.</summary>
    /// <param name="onMessage">Called on the reader's thread for every decoded message, in arrival order.</param>
    /// <param name="onClosed">Called once when the connection ends: null reason for an orderly close or <see cref="Dispose"/>.</param>
    public void Start(Action<ITensorMessage> onMessage, Action<string?> onClosed)
    {
        _ = Task.Run(() => ReadLoopAsync(onMessage, onClosed));
        _ = Task.Run(() => WriteLoopAsync(onClosed));
    }

    /// <summary>Queues an encoded tensor message; the same body array may be queued on several connections.</summary>
    /// <param name="kind">The frame kind (<see cref="TensorLinkFrame.KindOf"/>).</param>
    /// <param name="body">The <see cref="TensorCodec"/> encoding; must not be modified afterwards.</param>
    /// <returns>False if the connection is closed or its queue is full.</returns>
    public bool TrySend(byte kind, byte[] body) => TrySend(kind, new EncodedFrame(body, body.Length));

    /// <summary>Queues an encoded tensor message held in a pooled frame; the connection holds it until it is written.</summary>
    /// <param name="kind">The frame kind (<see cref="TensorLinkFrame.KindOf"/>).</param>
    /// <param name="frame">The encoding; the caller keeps its own hold and releases it as usual.</param>
    /// <returns>False if the connection is closed or its queue is full.</returns>
    public bool TrySend(byte kind, EncodedFrame frame)
    {
        if (!IsOpen) return false;
        frame.Share();
        if (_queue.Writer.TryWrite((kind, frame))) return true;
        frame.Release();
        return false;
    }

    /// <summary>The owner has handled one message handed on by the reader (see the constructor's unconsumed limit).</summary>
    public void Consumed()
    {
        if (_credits is null) return;
        // A message that came over Akka.Remote from the same worker is reported too; never exceed the limit.
        try { _credits.Release(); }
        catch (SemaphoreFullException) { }
    }

    /// <summary>Sends the client's hello and waits until it is written.</summary>
    internal Task SendHelloAsync(byte[] hello, CancellationToken cancel) =>
        WriteFrameAsync(new byte[TensorLinkFrame.HeaderBytes], TensorLinkFrame.HelloKind, hello, cancel);

    private async Task WriteFrameAsync(byte[] header, byte kind, ReadOnlyMemory<byte> body, CancellationToken cancel)
    {
        TensorLinkFrame.WriteHeader(header, kind, body.Length);
        await _stream.WriteAsync(header, cancel).ConfigureAwait(false);
        await _stream.WriteAsync(body, cancel).ConfigureAwait(false);
    }

    /// <summary>Reads the client's hello (server side), before <see cref="Start"/>.</summary>
    /// <exception cref="SerializationException">The first frame is not a well-formed hello.</exception>
    internal async Task<(string RunId, byte[] Token)> ReadHelloAsync(CancellationToken cancel)
    {
        var header = new byte[TensorLinkFrame.HeaderBytes];
        await _stream.ReadExactlyAsync(header, cancel).ConfigureAwait(false);
        var (kind, length) = TensorLinkFrame.ReadHeader(header, TensorLinkFrame.MaxHelloBytes);
        if (kind != TensorLinkFrame.HelloKind)
            throw new SerializationException($"Tensor link peer sent frame kind 0x{kind:x2} before its hello.");
        var body = new byte[length];
        await _stream.ReadExactlyAsync(body, cancel).ConfigureAwait(false);
        return TensorLinkFrame.DecodeHello(body);
    }

    private async Task ReadLoopAsync(Action<ITensorMessage> onMessage, Action<string?> onClosed)
    {
        var reader = new TensorLinkFrameReader(_stream, _maxBodyBytes);
        string? reason = null;
        try
        {
            // A null message is an orderly close between frames.
            while (true)
            {
                if (_credits is not null) await _credits.WaitAsync(_stop.Token).ConfigureAwait(false);
                if (await reader.ReadAsync(_stop.Token).ConfigureAwait(false) is not { } message) break;
                onMessage(message);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or SerializationException or ObjectDisposedException)
        {
            reason = e.Message;
        }
        Close(reason, onClosed);
    }

    private async Task WriteLoopAsync(Action<string?> onClosed)
    {
        var header = new byte[TensorLinkFrame.HeaderBytes];
        string? reason = null;
        try
        {
            await foreach (var (kind, frame) in _queue.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                try { await WriteFrameAsync(header, kind, frame.Memory, _stop.Token).ConfigureAwait(false); }
                finally { frame.Release(); }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            reason = e.Message;
        }
        Close(reason, onClosed);
    }

    // The first caller (either loop, or Dispose) closes; the others find it closed.
    private void Close(string? reason, Action<string?>? onClosed)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        _queue.Writer.TryComplete();
        _stop.Cancel();
        while (_queue.Reader.TryRead(out var unsent)) unsent.Frame.Release();
        _stream.Dispose();
        onClosed?.Invoke(reason);
    }

    /// <summary>Closes the connection from this side; the close callback is not called.</summary>
    public void Dispose() => Close(null, null);
}
