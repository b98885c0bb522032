namespace Distributed.Coordinator.Cli;

/// <summary>
/// Where <c>train</c> prints. Text (epoch lines, messages) goes to standard output, or to standard
/// error with <c>--json</c>, which keeps standard output for one JSON object per line (the rows of
/// <c>metrics.jsonl</c>: epochs, events, the test figures). A live progress line is drawn only on a
/// terminal, and not with <c>--quiet</c> or <c>--json</c>.
/// </summary>
public sealed record TrainOutput(TextWriter Text, TextWriter? Json, bool Progress)
{
    /// <summary>Options that choose it, which every form of <c>train</c> accepts.</summary>
    public static readonly string[] Names = ["--json", "--quiet"];

    /// <summary>Reads <c>--json</c> and <c>--quiet</c>.</summary>
    public static TrainOutput Read(Messages.Hosting.ArgumentReader reader, CliConsole console)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(console);
        bool json = reader.Flag("--json"), quiet = reader.Flag("--quiet");
        return json ? new TrainOutput(console.Error, console.Output, false) : new TrainOutput(console.Output, null, console.Interactive && !quiet);
    }

    /// <summary>A progress line for a run of <paramref name="epochs"/> epochs of <paramref name="batchSize"/> samples per iteration, or null when there is none.</summary>
    public ProgressBar? Bar(int batchSize, int epochs) => Progress ? new ProgressBar(Text, batchSize, epochs, TerminalWidth).Activate() : null;

    private static int TerminalWidth()
    {
        try { return Console.WindowWidth; }
        catch (IOException) { return 0; }
        catch (PlatformNotSupportedException) { return 0; }
    }
}
