using System.Globalization;

namespace Distributed.Coordinator.Cli;

/// <summary>
/// Keras's live progress line for a terminal: <c>Epoch e/E</c> when an epoch starts, then one line
/// redrawn in place (at most ten times a second) with iteration n/N, a bar, the ETA, the running loss
/// and accuracy, images/s and an optional status (the cluster's workers). <see cref="EndEpoch"/> clears
/// it before the epoch's summary line.
/// </summary>
/// <param name="output">Where the line is drawn.</param>
/// <param name="batchSize">Samples per iteration (for images/s).</param>
/// <param name="epochs">Epochs of the run (for the header).</param>
/// <param name="width">The terminal's width in columns, or null/0 for no limit: a longer line would wrap, and a
/// carriage return only goes back to the start of its last row.</param>
/// <param name="time">The clock for ETA, images/s and redraw throttling (the system's by default).</param>
public sealed class ProgressBar(TextWriter output, int batchSize, int epochs, Func<int>? width = null, TimeProvider? time = null)
{
    private const int BarWidth = 30;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _epochStart;
    private int _epoch = -1;
    private long _lastDrawMs = -1;
    private int _lastLength;
    private int _firstIteration = -1;
    private long _firstMs;
    private string _line = "";
    private readonly Lock _sync = new();

    /// <summary>
    /// The bar being drawn on this process's terminal, if any: console log lines go above it
    /// (<see cref="WriteAbove"/>) instead of into the middle of it.
    /// </summary>
    public static ProgressBar? Live { get; private set; }

    /// <summary>Makes this the bar that console log lines make room for (<see cref="Live"/>).</summary>
    public ProgressBar Activate()
    {
        Live = this;
        return this;
    }

    /// <summary>Clears the live line, runs <paramref name="write"/> (e.g. a log line on standard error), and draws the line again.</summary>
    public void WriteAbove(Action write)
    {
        ArgumentNullException.ThrowIfNull(write);
        lock (_sync)
        {
            bool shown = _lastLength > 0;
            if (shown) Clear();
            write();
            if (shown) Draw(_line);
        }
    }

    /// <summary>True once the current epoch's header was printed (the summary then prints without one).</summary>
    public bool EpochStarted => _epoch >= 0;

    /// <summary>An iteration of <paramref name="epoch"/> (1-based) completed.</summary>
    /// <param name="epoch">1-based epoch.</param>
    /// <param name="iteration">Iterations of the epoch completed so far (1..<paramref name="iterations"/>).</param>
    /// <param name="iterations">Iterations per epoch.</param>
    /// <param name="loss">Running mean loss of the epoch.</param>
    /// <param name="accuracy">Running top-1 accuracy of the epoch.</param>
    /// <param name="status">Appended after images/s (e.g. the workers), or null.</param>
    public void Iteration(int epoch, int iteration, int iterations, double loss, double accuracy, string? status = null)
    {
        lock (_sync) Update(epoch, iteration, iterations, loss, accuracy, status);
    }

    private void Update(int epoch, int iteration, int iterations, double loss, double accuracy, string? status)
    {
        if (epoch != _epoch)
        {
            Clear();
            _epoch = epoch;
            _epochStart = _time.GetTimestamp();
            _lastDrawMs = -1;
            _firstIteration = -1;
            output.WriteLine($"Epoch {epoch}/{epochs}");
        }
        long now = (long)_time.GetElapsedTime(_epochStart).TotalMilliseconds;
        if (iteration < iterations && _lastDrawMs >= 0 && now - _lastDrawMs < 100) return;
        _lastDrawMs = now;
        if (iteration <= 1 || _firstIteration < 0) { _firstIteration = iteration; _firstMs = now; }
        int filled = (int)((long)BarWidth * iteration / Math.Max(iterations, 1));
        string bar = iteration >= iterations ? new string('=', BarWidth) : new string('=', Math.Max(filled - 1, 0)) + ">" + new string('.', BarWidth - Math.Max(filled, 1));
        string digits = iterations.ToString(CultureInfo.InvariantCulture);
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{iteration.ToString(CultureInfo.InvariantCulture).PadLeft(digits.Length)}/{digits} [{bar}] - ETA: {Eta(iteration, iterations, now)} - loss: {loss:F4} - accuracy: {accuracy:F4}");
        // Rates from the iterations since the first one seen: when an epoch's first iteration began is not known here.
        double seconds = (now - _firstMs) / 1000.0;
        if (iteration > _firstIteration && seconds > 0)
            line += string.Create(CultureInfo.InvariantCulture, $" - {(iteration - _firstIteration) * (double)batchSize / seconds:F0} images/s");
        if (status is not null) line += " - " + status;
        int columns = width?.Invoke() ?? 0;
        if (columns > 1 && line.Length > columns - 1) line = line[..(columns - 1)];
        Draw(line);
    }

    /// <summary>Clears the live line (before a summary or any other line is printed).</summary>
    public void EndEpoch()
    {
        lock (_sync) Clear();
    }

    private void Draw(string line)
    {
        output.Write("\r" + line.PadRight(_lastLength));
        output.Flush();
        _line = line;
        _lastLength = line.Length;
    }

    private void Clear()
    {
        if (_lastLength == 0) return;
        output.Write("\r" + new string(' ', _lastLength) + "\r");
        output.Flush();
        _lastLength = 0;
    }

    private string Eta(int iteration, int iterations, long nowMs)
    {
        if (iteration >= iterations) return "0s";
        if (iteration <= _firstIteration) return "-";
        return Duration((nowMs - _firstMs) / 1000.0 / (iteration - _firstIteration) * (iterations - iteration));
    }

    private static string Duration(double seconds) => seconds >= 3600
        ? TimeSpan.FromSeconds(seconds).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : seconds >= 60 ? TimeSpan.FromSeconds(seconds).ToString(@"m\:ss", CultureInfo.InvariantCulture) : $"{seconds:F0}s";
}
