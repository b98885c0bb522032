namespace Distributed.Messages.Hosting;

/// <summary>A command line that cannot be run: unknown option, bad value, missing argument. Exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
