using Akka.Actor;
using Akka.Event;
using Distributed.Engine.Models;
using Distributed.Engine.Training;
using Distributed.Messages.Protocol;

namespace Distributed.Coordinator.Coordination;

// The coordinator at an epoch's end: validation, the epoch's metrics row (confirmed by the reporter
// before the epoch's checkpoint), the next epoch, and at the run's end the test evaluation and the
// final checkpoint.
public sealed partial class CoordinatorActor
{
    private void EndEpoch()
    {
        // The epoch's speed counts training only, as the single-process trainer's does: the validation
        // pass below is not part of it.
        _epochTrainingSeconds = (DateTime.UtcNow - _epochStart).TotalSeconds;
        Become(Evaluating);
        _settings.ParameterServer.Ask<WeightsSnapshot>(new GetWeights(RunId), TimeSpan.FromSeconds(60))
            .ContinueWith(t => (object)new EvaluationDone(Evaluate(t.Result, _validation), Final: false),
                TaskContinuationOptions.OnlyOnRanToCompletion)
            .PipeTo(Self);
    }

    private EvaluationResult Evaluate(WeightsSnapshot snapshot, Engine.Data.Dataset data)
    {
        var model = ModelSpec.Parse(_plan.ModelSpecJson).Build();
        // The workers wait meanwhile, so the evaluation may use every core (results do not depend on it).
        model.Threads = Environment.ProcessorCount;
        snapshot.Weights.CopyTo(model.Weights, 0);
        snapshot.State.CopyTo(model.State, 0);
        return data.Count == 0 ? new EvaluationResult(double.NaN, double.NaN, double.NaN, 0) : Evaluation.Run(model, data);
    }

    private void Evaluating()
    {
        CommonMembership();
        Receive<EvaluationDone>(done =>
        {
            if (done.Final)
            {
                Finish(done.Result);
                return;
            }
            double seconds = _epochTrainingSeconds;
            var metrics = new EpochMetrics(_epoch + 1, _epochLoss / _epochSamples, (double)_epochCorrect / _epochSamples,
                done.Result.Samples > 0 ? done.Result.Loss : null, done.Result.Samples > 0 ? done.Result.Top1 : null,
                _epochSamples, _iterationsPerEpoch, seconds, _epochSamplesHere / Math.Max(seconds, 1e-9), _learningRate);
            Report(new EpochEnded(RunId, metrics, WorkingCount, _plan.Epochs));
            if (_settings.CheckpointDirectory is null)
            {
                NextEpoch();
                return;
            }
            // The epoch's row first, then its checkpoint: a run resumed from that or any later checkpoint
            // must not lack the row (a SIGKILL may come between the two).
            Timers.StartSingleTimer("epoch-recorded", EpochRecordTimedOut.Instance, TimeSpan.FromSeconds(10));
            Become(RecordingEpoch);
        });
        IgnoreWhileBetweenEpochs();
    }

    private void RecordingEpoch()
    {
        CommonMembership();
        Receive<EpochRecorded>(r =>
        {
            if (r.RunId != RunId || r.Epoch != _epoch + 1) return;
            Timers.Cancel("epoch-recorded");
            NextEpoch();
        });
        Receive<EpochRecordTimedOut>(_ =>
        {
            _log.Warning("Run {RunId}: the reporter did not confirm epoch {Epoch}'s metrics row within 10 s; going on", RunId, _epoch + 1);
            NextEpoch();
        });
        Receive<EvaluationDone>(_ => { });
        IgnoreWhileBetweenEpochs();
    }

    private void IgnoreWhileBetweenEpochs()
    {
        Receive<CheckpointSaved>(OnCheckpointSaved);
        Receive<StepCompleted>(_ => { });
        Receive<ShardAccepted>(_ => { });
        Receive<ShardsOverdue>(_ => { });
        Receive<Status.Failure>(f => Fail($"evaluation failed: {f.Cause?.GetBaseException().Message}"));
    }

    // Checkpoints the epoch that ended, then starts the next one or the final test evaluation.
    private void NextEpoch()
    {
        if (_settings.CheckpointDirectory is not null)
            _settings.ParameterServer.Tell(new SaveCheckpoint(RunId, Path.Combine(_settings.CheckpointDirectory, Runs.RunFolder.EpochFileName(_epoch + 1)), _epoch + 1, _iteration));
        _epoch++;
        if (_epoch < _plan.Epochs)
        {
            StartEpoch();
            return;
        }
        Become(Evaluating);
        _settings.ParameterServer.Ask<WeightsSnapshot>(new GetWeights(RunId), TimeSpan.FromSeconds(60))
            .ContinueWith(t => (object)new EvaluationDone(Evaluate(t.Result, _settings.Test), Final: true), TaskContinuationOptions.OnlyOnRanToCompletion)
            .PipeTo(Self);
    }

    private void Fail(string reason)
    {
        _log.Error("Run {RunId}: {Reason}", RunId, reason);
        foreach (var worker in _workers.Keys) worker.Tell(new RunFinished(RunId, false, reason));
        Report(new TrainingFailed(RunId, reason));
        Become(() => ReceiveAny(_ => { }));
    }

    private void Finish(EvaluationResult test)
    {
        string? final = _settings.CheckpointDirectory is null ? null : Path.Combine(_settings.CheckpointDirectory, Runs.RunFolder.FinalFileName);
        if (final is null)
        {
            Complete(test, null);
            return;
        }
        _settings.ParameterServer.Ask<CheckpointSaved>(new SaveCheckpoint(RunId, final, _plan.Epochs, _iteration), TimeSpan.FromSeconds(120))
            .PipeTo(Self);
        Become(() =>
        {
            CommonMembership();
            Receive<CheckpointSaved>(saved =>
            {
                if (saved.Path != final) return;
                if (saved.Error is not null) _log.Error("Run {RunId}: final checkpoint failed: {Error}", RunId, saved.Error);
                Complete(test, saved.Error is null ? final : null);
            });
            Receive<Status.Failure>(f => Fail($"the final checkpoint was not written: {f.Cause?.GetBaseException().Message}"));
        });
    }

    private void Complete(EvaluationResult test, string? checkpoint)
    {
        // With final.ckpt written nothing will resume from the periodic checkpoints; the epoch ones stay.
        if (checkpoint is not null) _periodic.DeleteAll();
        foreach (var worker in _workers.Keys) worker.Tell(new RunFinished(RunId, true, "training complete"));
        Report(new TrainingCompleted(RunId, test, checkpoint));
        Become(() =>
        {
            Receive<RegisterWorker>(_ => Sender.Tell(new RunFinished(RunId, true, "training complete")));
            ReceiveAny(_ => { });
        });
    }
}
