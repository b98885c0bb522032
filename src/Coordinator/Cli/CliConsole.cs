namespace Distributed.Coordinator.Cli;

/// <summary>Where a command prints: its output and error writers, and whether the output is a terminal.</summary>
/// <param name="Output">Standard output (results, and train's progress).</param>
/// <param name="Error">Standard error (messages; train's text with <c>--json</c>).</param>
/// <param name="Interactive">Standard output is a terminal, so a live progress line may redraw itself.</param>
public sealed record CliConsole(TextWriter Output, TextWriter Error, bool Interactive);
