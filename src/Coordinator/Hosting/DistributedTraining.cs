using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Distributed.Coordinator.Commands;
using Distributed.Coordinator.Coordination;
using Distributed.Coordinator.ParameterServer;
using Distributed.Coordinator.Runs;
using Distributed.Engine.Data;
using Distributed.Messages.Hosting;
using Distributed.Messages.Protocol;
using Serilog;

namespace Distributed.Coordinator.Hosting;

/// <summary>
/// <c>train --workers N</c>: starts this node (role coordinator) with the coordinator and
/// parameter-server singletons, starts N local worker processes (or waits for external ones),
/// and reports the run until it completes. A standby node (<c>train --standby</c>) starts the same
/// singletons, which run on the oldest coordinator node: they move to the standby when the first node
/// is gone, and it continues the run from the newest checkpoint in the shared run folder.
/// </summary>
public static class DistributedTraining
{
    /// <summary>Runs the distributed training; returns the exit code.</summary>
    public static int Run(TrainSettings settings, bool verbose, Cli.TrainOutput view)
    {
        var output = view.Text;
        var run = settings.OutDirectory is null ? null : new RunFolder(settings.OutDirectory);
        Logging.LogSetup.Configure(verbose, run?.LogDirectory, settings.Standby ? "coordinator-standby" : "coordinator");
        // What --resume and --standby need to start the run again the same way.
        if (run is not null && settings.Resume is null && !settings.Standby)
            File.WriteAllText(Path.Combine(run.Root, ResumePoint.CommandFile), System.Text.Json.JsonSerializer.Serialize(settings.Arguments));
        var inputs = TrainingInputs.Load(settings);
        var (data, spec) = (inputs.Data, inputs.Spec);

        var c = settings.Cluster;
        var fit = settings.Fit;
        var sgd = settings.Optimizer;
        string runId = $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
        var plan = new RunPlan(runId, spec.ToJson(indented: false), data.Fingerprint, fit.Seed, fit.Epochs, fit.BatchSize, c.MicroShard,
            fit.ValidationSplit, fit.TrainCount(data.Train.Count), sgd.LearningRate, sgd.Momentum, sgd.Nesterov, sgd.WeightDecay, sgd.Decay,
            sgd.StepEpochs, sgd.StepGamma, inputs.Scaling.Mean, inputs.Scaling.Std);

        using var tls = Messages.Security.NodeSecurity.Load(c.TlsDirectory, c.PublicHostname ?? c.Host);
        if (Messages.Security.NodeSecurity.InsecureWarning(tls, c.Host, c.Port) is { } warning)
        {
            output.WriteLine(warning);
            Log.Warning("{Warning}", warning);
        }
        var options = new ClusterOptions(ClusterOptions.CoordinatorRole, c.Host, c.Port, c.PublicHostname, c.SeedNode is null ? [] : [c.SeedNode],
            c.TensorLink, c.TensorPort, tls);
        using var system = ClusterSetup.Start(options);
        var cluster = Akka.Cluster.Cluster.Get(system);
        if (c.SeedNode is null) cluster.Join(cluster.SelfAddress);
        string seed = cluster.SelfAddress.ToString();
        Log.Information("Run {RunId}: coordinator node {Address}", runId, seed);

        using var metrics = MetricsWriter.For(run?.MetricsPath, view.Json);
        var completion = new TaskCompletionSource<TrainingCompleted>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reporter = system.ActorOf(RunReporter.Props(output, view.Bar(fit.BatchSize, fit.Epochs), metrics, completion, started), "reporter");
        ClusterSetup.StartSingleton(system, ClusterSetup.ParameterServerName, ParameterServerActor.Props());
        var parameterServer = ClusterSetup.ParameterServerProxy(system);
        var coordinatorSettings = new CoordinatorSettings(plan, data.Train, data.Test, c.MinWorkers, c.MaxWorkers, run?.CheckpointDirectory, reporter, parameterServer)
        {
            ShardTimeout = TimeSpan.FromSeconds(c.ShardTimeoutSeconds),
            MinLiveWorkers = c.MinLiveWorkers,
            CheckpointEvery = settings.CheckpointEvery,
            Resume = settings.Resume,
            TakeOver = settings.Standby && run is not null ? () => FindTakeOver(run) : null,
        };
        ClusterSetup.StartSingleton(system, ClusterSetup.CoordinatorName, CoordinatorActor.Props(coordinatorSettings));
        var latencyProbe = system.ActorOf(RemoteLatencyProbe.Props(), "latency-probe");

        int trainCount = plan.TrainCount;
        if (!settings.Standby)
            output.WriteLine($"Run {runId}: train on {trainCount} samples, validate on {data.Train.Count - trainCount}, test on {data.Test.Count}; " +
                (c.Workers > 0 ? $"{c.Workers} local worker processes" : $"waiting for {c.MinWorkers} workers to join {seed}"));
        else cluster.RegisterOnMemberUp(() => output.WriteLine($"standby node {seed} is up in the cluster of {c.SeedNode}; it takes over if that node dies"));

        using var workers = new WorkerProcesses();
        try
        {
            if (c.Workers > 0) workers.Start(c.Workers, seed, data.Directory, c.ThreadsPerWorker, run?.LogDirectory, c.TlsDirectory);
            system.WhenTerminated.ContinueWith(_ => completion.TrySetException(new Engine.EngineException("the coordinator node was shut down (signal or cluster downing) before the run finished")));
            var result = Await(completion.Task, started.Task, workers, c, settings.Standby ? run : null);
            if (result is null)
            {
                output.WriteLine($"the run finished on another coordinator node ({run!.FinalCheckpointPath}); this standby stops");
                return ExitCodes.Ok;
            }
            latencyProbe.GracefulStop(TimeSpan.FromSeconds(2)).Wait(TimeSpan.FromSeconds(3));
            if (result.CheckpointPath is not null) output.WriteLine($"checkpoint: {result.CheckpointPath}");
            if (run is not null) output.WriteLine($"metrics: {run.MetricsPath}");
            workers.Stop(TimeSpan.FromSeconds(15));
            if (run is not null && File.Exists(run.FinalCheckpointPath)) RunReport.WriteAfterRun(run, data.Directory, output);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test: loss={result.Test.Loss:F4} top1={result.Test.Top1:F4} top5={result.Test.Top5:F4}"));
            return ExitCodes.Ok;
        }
        finally
        {
            CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(10));
        }
    }

    // Waits for the run; fails early when every local worker process has died, or when not
    // enough workers are ready within the worker time-out. A standby (standbyFor set) waits without a
    // time-out, and returns null when the run finishes on another node before this one takes over.
    private static TrainingCompleted? Await(Task<TrainingCompleted> completion, Task started, WorkerProcesses workers, ClusterArguments c, RunFolder? standbyFor)
    {
        var since = DateTime.UtcNow;
        while (!((IAsyncResult)completion).AsyncWaitHandle.WaitOne(TimeSpan.FromMilliseconds(500)))
        {
            if (standbyFor is not null)
            {
                if (!started.IsCompleted && File.Exists(standbyFor.FinalCheckpointPath)) return null;
                continue;
            }
            if (workers.Processes.Count > 0 && workers.Processes.All(p => p.HasExited))
                throw new Engine.EngineException($"all {workers.Processes.Count} worker processes exited (codes {string.Join(", ", workers.Processes.Select(p => p.ExitCode))}) before training finished; see the worker logs");
            if (DateTime.UtcNow - since > TimeSpan.FromSeconds(c.WorkerTimeoutSeconds) && !completion.IsCompleted && !started.IsCompleted)
                throw new Engine.EngineException($"fewer than {c.MinWorkers} workers were ready within {c.WorkerTimeoutSeconds} s; check that workers can reach this node (--host/--public-hostname/--port) or raise --worker-timeout");
        }
        return completion.GetAwaiter().GetResult();
    }

    // Called where the coordinator starts on a standby node: the first node is gone.
    private static TakeOver FindTakeOver(RunFolder run) =>
        File.Exists(run.FinalCheckpointPath) ? new TakeOver(true, null) : new TakeOver(false, ResumePoint.Find(run.CheckpointDirectory));
}
