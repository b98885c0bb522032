using System.Diagnostics;
using Serilog;

namespace Distributed.Coordinator.Hosting;

/// <summary>
/// Worker processes started on this machine for <c>train --workers N</c>: the Worker executable
/// built beside this one, run with the same .NET host, each with its output in the run's logs.
/// Disposing stops any that are still running.
/// </summary>
public sealed class WorkerProcesses : IDisposable
{
    private readonly List<Process> _processes = [];

    /// <summary>Path of the worker assembly beside the coordinator.</summary>
    public static string WorkerAssembly => Path.Combine(AppContext.BaseDirectory, "Distributed.Worker.dll");

    /// <summary>The started processes.</summary>
    public IReadOnlyList<Process> Processes => _processes;

    /// <summary>Starts <paramref name="count"/> workers pointed at <paramref name="seedNode"/>.</summary>
    /// <param name="count">Number of processes.</param>
    /// <param name="seedNode">This node's address.</param>
    /// <param name="dataDirectory">The dataset folder, or null for the default.</param>
    /// <param name="threads">Engine threads per worker.</param>
    /// <param name="logDirectory">Where their log files go, or null.</param>
    /// <param name="tlsDirectory">The certificates this node uses (loopback: the same ones serve the workers); null runs them with --insecure.</param>
    public void Start(int count, string seedNode, string? dataDirectory, int threads, string? logDirectory, string? tlsDirectory = null)
    {
        if (!File.Exists(WorkerAssembly))
            throw new Engine.EngineException($"the worker executable {WorkerAssembly} is missing; build the solution (dotnet build -c Release) so it lands beside the coordinator");
        string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        for (int i = 0; i < count; i++)
        {
            var info = new ProcessStartInfo(host)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var a in new[] { WorkerAssembly, "--seed-node", seedNode, "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture), "--worker-id", $"worker-{i + 1}" })
                info.ArgumentList.Add(a);
            if (dataDirectory is not null) { info.ArgumentList.Add("--data-dir"); info.ArgumentList.Add(dataDirectory); }
            if (logDirectory is not null) { info.ArgumentList.Add("--log-dir"); info.ArgumentList.Add(logDirectory); }
            if (tlsDirectory is not null) { info.ArgumentList.Add("--tls-dir"); info.ArgumentList.Add(tlsDirectory); }
            else info.ArgumentList.Add("--insecure"); // loopback only: ClusterArguments refuses a reachable node without TLS
            var process = Process.Start(info) ?? throw new Engine.EngineException($"could not start {WorkerAssembly}");
            string name = $"worker-{i + 1}";
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) Log.Information("[{Worker}] {Line}", name, e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Log.Warning("[{Worker}] {Line}", name, e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _processes.Add(process);
            Log.Information("Started {Worker} as process {Pid}", name, process.Id);
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the workers to exit by themselves, then kills the rest.</summary>
    public void Stop(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        foreach (var p in _processes)
        {
            var left = deadline - DateTime.UtcNow;
            if (left > TimeSpan.Zero) p.WaitForExit(left);
            if (!p.HasExited)
            {
                Log.Warning("Worker process {Pid} did not exit; killing it", p.Id);
                try { p.Kill(entireProcessTree: true); p.WaitForExit(5000); }
                catch (InvalidOperationException) { }
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Stop(TimeSpan.Zero);
        foreach (var p in _processes) p.Dispose();
    }
}
