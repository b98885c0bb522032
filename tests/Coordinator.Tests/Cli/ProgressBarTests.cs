using Distributed.Coordinator.Cli;

namespace Distributed.Coordinator.Tests.Cli;

public class ProgressBarTests
{
    [Fact]
    public void Draws_an_epoch_header_then_redraws_one_line_with_bar_eta_loss_and_rate()
    {
        var output = new StringWriter();
        var time = new ManualTime();
        var bar = new ProgressBar(output, batchSize: 64, epochs: 2, time: time);
        for (int i = 1; i <= 10; i++)
        {
            bar.Iteration(1, i, 10, 2.0 / i, 0.05 * i, "workers: 2");
            time.Advance(TimeSpan.FromMilliseconds(i == 1 ? 120 : 10));
        }
        bar.EndEpoch();
        string text = output.ToString();
        Assert.StartsWith("Epoch 1/2" + Environment.NewLine, text);
        Assert.Contains("\r 1/10 [==>...........................] - ETA: - - loss: 2.0000 - accuracy: 0.0500 - workers: 2", text);
        Assert.Contains("\r10/10 [==============================] - ETA: 0s - loss: 0.2000 - accuracy: 0.5000 - ", text);
        // 9 iterations of 64 samples in 0.2 s since the first.
        Assert.Contains("10/10 [==============================] - ETA: 0s - loss: 0.2000 - accuracy: 0.5000 - 2880 images/s - workers: 2", text);
        // The live line is cleared at the end, so the epoch's summary line starts on a clean line.
        Assert.EndsWith("\r", text);
        Assert.DoesNotContain('\n', text[(text.IndexOf('\n') + 1)..]);
    }

    [Fact]
    public void A_new_epoch_prints_its_header_and_redraws_at_most_ten_times_a_second()
    {
        var output = new StringWriter();
        var time = new ManualTime();
        var bar = new ProgressBar(output, batchSize: 32, epochs: 3, time: time);
        for (int i = 1; i <= 1000; i++)
        {
            bar.Iteration(2, i, 1000, 1, 0.5);
            time.Advance(TimeSpan.FromMilliseconds(1));
        }
        bar.Iteration(3, 1, 1000, 1, 0.5);
        string text = output.ToString();
        Assert.Contains("Epoch 2/3", text);
        Assert.Contains("Epoch 3/3", text);
        // 1,000 iterations in one second: the first, one every 100 ms, the last, and epoch 3's first.
        int draws = text.Split('\r').Count(part => part.Contains("/1000 [", StringComparison.Ordinal));
        Assert.Equal(12, draws);
    }

    [Fact]
    public void The_line_is_cut_to_the_terminal_width_so_that_it_never_wraps()
    {
        var output = new StringWriter();
        var bar = new ProgressBar(output, 128, 1, width: () => 60);
        bar.Iteration(1, 1, 100, 2.3, 0.1, "workers: 3, slowest worker-2 4567 images/s, 12 shards re-assigned");
        bar.Iteration(1, 100, 100, 0.3, 0.9, "workers: 3, slowest worker-2 4567 images/s, 12 shards re-assigned");
        var lines = output.ToString().Split('\r', '\n').Where(l => l.Contains('[')).ToList();
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.True(l.TrimEnd().Length <= 59, l));
    }

    [Fact]
    public void A_log_line_is_written_above_the_live_line_which_is_then_drawn_again()
    {
        var output = new StringWriter();
        var bar = new ProgressBar(output, 64, 1);
        bar.Iteration(1, 1, 10, 2.0, 0.1);
        int before = output.ToString().Length;
        bar.WriteAbove(() => output.Write("[12:00:00 WRN] worker-2 left\n"));
        string after = output.ToString()[before..];
        // Cleared with spaces, the log line on a clean line, then the same progress line again.
        Assert.Matches(@"^\r +\r\[12:00:00 WRN\] worker-2 left\n\r 1/10 \[", after);
        bar.EndEpoch();
        int cleared = output.ToString().Length;
        bar.WriteAbove(() => output.Write("x\n"));
        Assert.Equal("x\n", output.ToString()[cleared..]);
    }

    // A clock the test moves by hand.
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
