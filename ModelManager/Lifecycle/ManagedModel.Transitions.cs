using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>The transitions the start, sleep and stop pipelines report; each takes the lock and changes the state through Enter.</summary>
internal sealed partial class ManagedModel
{
    /// <summary>Shutdown has let go of the model: a start that fails now leaves its server to the next ModelManager.</summary>
    internal bool IsReleased => Locked(() => released);

    /// <summary>Why the start under way was cancelled, when a stop (or nobody waiting for it) cancelled it.</summary>
    internal string? StopReason => Locked(() => stopReason);

    /// <summary>The start under way was cancelled because nobody waited for it any more.</summary>
    internal bool IsAbandoned => Locked(() => abandoned);

    /// <summary>The start has its server (launched or adopted), not ready yet.</summary>
    internal void Launched(IModelServer launched)
    {
        lock (gate)
        {
            server = launched;
        }
    }

    /// <summary>
    /// The start's server passed its readiness checks, or woke up; <paramref name="phases"/> is null for an adopted or
    /// woken server.
    /// </summary>
    internal void StartSucceeded(ColdStartPhases? phases)
    {
        lock (gate)
        {
            LastError = null;
            LoadedSince = services.Time.GetUtcNow();
            if (phases is not null)
            {
                LastColdStartPhases = phases;
            }

            EndStart(ModelState.Ready);
        }
    }

    /// <summary>
    /// The start ended without a server and without blame: cancelled, or abandoned by its callers or at shutdown.
    /// <paramref name="why"/>, when given, is kept as the last error (a load nobody waited for).
    /// </summary>
    internal void StartStopped(string? why = null)
    {
        lock (gate)
        {
            LastError = why ?? LastError;
            EndStart(ModelState.Stopped);
        }
    }

    /// <summary>
    /// The start was refused for capacity before it launched or woke anything: the model is stopped, or, when it was to
    /// wake its server, asleep still.
    /// </summary>
    internal void StartRefused(bool stillAsleep)
    {
        lock (gate)
        {
            EndStart(stillAsleep ? ModelState.Sleeping : ModelState.Stopped);
        }
    }

    /// <summary>The start failed; the next one may be tried from <paramref name="retryFrom"/>.</summary>
    internal void StartFailed(string error, DateTimeOffset retryFrom)
    {
        lock (gate)
        {
            retryAt = retryFrom;
            LastError = error;
            EndStart(ModelState.Failed);
        }
    }

    /// <summary>Whether <paramref name="candidate"/> is the model's server and the model is ready or asleep.</summary>
    internal bool IsServing(IModelServer candidate) =>
        Locked(() => ReferenceEquals(server, candidate) && State is ModelState.Ready or ModelState.Sleeping);

    /// <summary>
    /// <paramref name="gone"/> was stopped or exited: the model enters Stopped, with <paramref name="error"/> as its
    /// last error when given. Nothing changes (false) unless it is still the model's server and, with
    /// <paramref name="onlyIfServing"/>, the model is ready or asleep.
    /// </summary>
    internal bool ServerGone(IModelServer gone, string? error, bool onlyIfServing)
    {
        lock (gate)
        {
            if (!ReferenceEquals(server, gone) || (onlyIfServing && State is not (ModelState.Ready or ModelState.Sleeping)))
            {
                return false;
            }

            if (error is not null)
            {
                LastError = error;
            }

            Enter(ModelState.Stopped);
            return true;
        }
    }

    /// <summary>
    /// <paramref name="awake"/> did not fall asleep: unless something else already took over, the model enters Stopping
    /// with <paramref name="error"/> as its last error, and the caller stops the server (true).
    /// </summary>
    internal bool SleepFailed(IModelServer awake, string error)
    {
        lock (gate)
        {
            if (!ReferenceEquals(server, awake) || State != ModelState.Sleeping)
            {
                return false;
            }

            LastError = error;
            Enter(ModelState.Stopping);
            // Those who wait for a stop wait for the sleep call's task, which goes on to stop the server.
            stopping = settling;
            return true;
        }
    }

    private T Locked<T>(Func<T> read)
    {
        lock (gate)
        {
            return read();
        }
    }

    /// <summary>Under the lock: the start under way is over, in <paramref name="outcome"/>.</summary>
    private void EndStart(ModelState outcome)
    {
        starting = null;
        startCancellation = null;
        Enter(outcome);
    }
}
