namespace Distributed.Messages.Hosting;

/// <summary>Process exit codes of the CLI.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>The command ran and failed (bad data, corrupt checkpoint...).</summary>
    public const int Failure = 1;
    /// <summary>The command line was invalid.</summary>
    public const int Usage = 2;
}
