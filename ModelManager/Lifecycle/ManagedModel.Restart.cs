using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// A model across ModelManager restarts: at service start it adopts its server left running (or asleep) by the previous
/// ModelManager; at shutdown it lets go of it, or stops it (<see cref="ModelManagerOptions.StopModelsOnShutdown"/>).
/// </summary>
internal sealed partial class ManagedModel
{
    /// <summary>At service start: takes over a server of this model that is still running from before the restart.</summary>
    public async Task AdoptAsync(CancellationToken cancellationToken)
    {
        IModelServer? found;
        try
        {
            found = await runtime.FindRunningAsync(Id, Options, cancellationToken);
        }
        catch (ModelServerException exception)
        {
            journal.AdoptionFailed(exception.Message);
            return;
        }

        if (found is null)
        {
            return;
        }

        var asleep = await sleeper.IsAsleepAsync(found, cancellationToken);
        lock (gate)
        {
            if (starting is null && State is ModelState.Stopped or ModelState.Failed && !released)
            {
                if (asleep)
                {
                    AdoptAsleep(found);
                }
                else
                {
                    BeginStart(found, wake: false, begunByEnsure: false);
                }

                return;
            }
        }

        // A start is already under way; it looks for running servers itself.
        await found.DisposeAsync();
    }

    /// <summary>
    /// At service shutdown: stops the server when <paramref name="stop"/>, otherwise lets go of it, running (or
    /// sleeping), for the next ModelManager to adopt. A start under way is abandoned either way.
    /// </summary>
    internal async Task ReleaseAsync(bool stop)
    {
        if (stop)
        {
            await StopAsync("ModelManager is shutting down");
        }

        Task? pending;
        Task sleepCall;
        CancellationTokenSource? cancelStart;
        lock (gate)
        {
            released = true;
            cancelStart = startCancellation;
            pending = starting;
            sleepCall = settling;
        }

        CancelQuietly(cancelStart);
        if (pending is not null)
        {
            await IgnoringStartFailure(pending);
        }

        await sleepCall;
        if (Locked(() => State is ModelState.Ready or ModelState.Sleeping ? server : null) is { } current)
        {
            await current.DisposeAsync();
        }
    }

    /// <summary>Under the lock: a server found asleep at service start is the model's, sleeping; an ensure wakes it.</summary>
    private void AdoptAsleep(IModelServer found)
    {
        server = found;
        LoadedSince = services.Time.GetUtcNow();
        Enter(ModelState.Sleeping);
        journal.Adopted(found, asleep: true);
        _ = stopper.WatchForExitAsync(found);
    }
}
