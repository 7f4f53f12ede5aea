using System.Globalization;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Telemetry;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// What happens to one model, told once to everything that keeps account of it: lifecycle events (memory, log,
/// PostgreSQL), metrics and the service's log.
/// </summary>
internal sealed partial class ModelJournal(
    string model, string runtime, ILifecycleEventSink events, ModelManagerMetrics metrics, TimeProvider time, ILogger logger)
{
    public void Transition(ModelState from, ModelState to)
    {
        metrics.Transition(model, from.Name(), to.Name());
        if (to == ModelState.Ready && from != ModelState.Ready)
        {
            metrics.LoadedChanged(model, 1);
        }
        else if (from == ModelState.Ready && to != ModelState.Ready)
        {
            metrics.LoadedChanged(model, -1);
        }
    }

    /// <summary>The runtime is asked to launch a server, <paramref name="waited"/> after the start request.</summary>
    public void Launching(TimeSpan waited) => Record(LifecycleEventKind.Starting, duration: waited);

    /// <param name="asleep">Found asleep (vLLM sleep mode): adopted as sleeping.</param>
    public void Adopted(IModelServer server, bool asleep = false) => Record(LifecycleEventKind.Adopted, server, detail: asleep ? "asleep" : null);

    /// <param name="phases">Null for an adopted server: that is not a cold start.</param>
    public void Ready(IModelServer server, TimeSpan elapsed, ColdStartPhases? phases)
    {
        if (phases is not null)
        {
            metrics.ColdStart(model, runtime, elapsed);
        }

        Record(LifecycleEventKind.Ready, server, elapsed, phases?.ToString() ?? "adopted");
    }

    public void StartCancelled(IModelServer? server, TimeSpan elapsed, string reason) => Record(LifecycleEventKind.Stopped, server, elapsed, reason);

    /// <summary>A load nobody waited for any more was cancelled after <paramref name="elapsed"/>.</summary>
    public void Abandoned(IModelServer? server, TimeSpan elapsed, string reason)
    {
        Record(LifecycleEventKind.Abandoned, server, elapsed, reason);
        LogAbandoned(logger, model, elapsed.TotalSeconds);
    }

    /// <summary>The server fell asleep; <paramref name="elapsed"/> is the sleep call's duration.</summary>
    public void Slept(IModelServer server, TimeSpan elapsed, int level, string reason) =>
        Record(LifecycleEventKind.Sleeping, server, elapsed, string.Create(CultureInfo.InvariantCulture, $"level {level}: {reason}"));

    public void SleepFailed(string error) => LogSleepFailed(logger, model, error);

    /// <summary>The server woke up, <paramref name="elapsed"/> after the start request.</summary>
    public void Woken(IModelServer server, TimeSpan elapsed, int level)
    {
        metrics.Woken(model, runtime, elapsed);
        Record(LifecycleEventKind.Woken, server, elapsed, string.Create(CultureInfo.InvariantCulture, $"level {level}"));
    }

    /// <summary>The server did not wake up and was stopped (in <paramref name="stopElapsed"/>) to launch a new one.</summary>
    public void WakeFailed(IModelServer server, TimeSpan stopElapsed, string error, string? stopFailure)
    {
        Record(LifecycleEventKind.Stopped, server, stopElapsed,
            $"{error}\nIt was stopped to start a new server{(stopFailure is null ? "" : $"; stop failed: {stopFailure}")}.");
        LogWakeFailed(logger, model, error);
    }

    public void StartFailed(IModelServer? server, TimeSpan elapsed, string error)
    {
        metrics.StartFailed(model, runtime);
        Record(LifecycleEventKind.Failed, server, elapsed, error);
        LogFailed(logger, model, error);
    }

    /// <param name="kind"><see cref="LifecycleEventKind.Stopping"/> or <see cref="LifecycleEventKind.Evicted"/>.</param>
    public void Stopping(string kind, IModelServer server, string reason) => Record(kind, server, detail: reason);

    public void Stopped(IModelServer server, TimeSpan elapsed, string reason, string? stopFailure) =>
        Record(LifecycleEventKind.Stopped, server, elapsed, stopFailure is null ? reason : $"{reason}; stop failed: {stopFailure}");

    public void StopFailed(string error) => LogStopFailed(logger, model, error);

    public void Exited(IModelServer server, string error)
    {
        Record(LifecycleEventKind.Exited, server, detail: error);
        LogExited(logger, model, server.ExitDescription ?? "exited");
    }

    public void Refusing(Uri endpoint) => LogRefusing(logger, model, endpoint);

    public void AdoptionFailed(string error) => LogAdoptionFailed(logger, model, error);

    private void Record(string kind, IModelServer? server = null, TimeSpan? duration = null, string? detail = null) =>
        events.Record(new LifecycleEvent(time.GetUtcNow(), model, kind, runtime, server?.Instance, server?.Endpoint, duration?.TotalMilliseconds, detail));

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} failed to start: {Error}")]
    private static partial void LogFailed(ILogger logger, string model, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stopping the server of model {Model} failed: {Error}")]
    private static partial void LogStopFailed(ILogger logger, string model, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} exited on its own ({Exit}); the next request starts it again")]
    private static partial void LogExited(ILogger logger, string model, string exit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The server of model {Model} at {Endpoint} refuses connections; starting it again")]
    private static partial void LogRefusing(ILogger logger, string model, Uri endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model}: nobody waited for its load any more; it was cancelled after {Seconds:F1} s and its server stopped (OnAbandonedLoad = Cancel)")]
    private static partial void LogAbandoned(ILogger logger, string model, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} could not be put to sleep; its server is stopped instead: {Error}")]
    private static partial void LogSleepFailed(ILogger logger, string model, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} did not wake up; its server is stopped and a new one started: {Error}")]
    private static partial void LogWakeFailed(ILogger logger, string model, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Looking for a running server of model {Model} to adopt failed: {Error}")]
    private static partial void LogAdoptionFailed(ILogger logger, string model, string error);
}
