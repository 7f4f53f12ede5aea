using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Puts a model's server to sleep and wakes it (vLLM sleep mode at the model's <c>SleepLevel</c>, each call bounded by
/// its <c>WakeTimeout</c>). A server that does not fall asleep is stopped: its GPU memory must be freed either way.
/// </summary>
internal sealed class ModelSleeper(ManagedModel model, SleepModeClient sleepMode, ModelStopper stopper, TimeProvider time, ModelJournal journal)
{
    private int Level => model.Options.SleepLevel;

    /// <summary>The model has entered Sleeping; this makes it so, or stops the server when it cannot.</summary>
    public async Task SleepAsync(IModelServer server, string reason)
    {
        var started = time.GetTimestamp();
        try
        {
            await sleepMode.SleepAsync(server.Endpoint, Level, model.Options.WakeTimeout, CancellationToken.None);
            journal.Slept(server, time.GetElapsedTime(started), Level, reason);
        }
        catch (SleepModeException exception)
        {
            var error = await server.WithLastOutputAsync($"The server could not be put to sleep: {exception.Message}.");
            journal.SleepFailed(error);
            if (model.SleepFailed(server, error))
            {
                await stopper.StopAsync(server, $"it could not be put to sleep ({exception.Message})", LifecycleEventKind.Stopping);
            }
        }
    }

    /// <summary>Wakes the server; <see cref="SleepModeException"/> when it does not.</summary>
    public Task WakeAsync(IModelServer server, CancellationToken cancellationToken) =>
        sleepMode.WakeAsync(server.Endpoint, Level, model.Options.WakeTimeout, cancellationToken);

    /// <summary>
    /// Whether a server found running is asleep (asked only for models that sleep). A server that does not say (still
    /// loading, not answering within WakeTimeout) is taken for awake: its readiness checks decide then.
    /// </summary>
    public async Task<bool> IsAsleepAsync(IModelServer server, CancellationToken cancellationToken)
    {
        if (!model.Sleeps)
        {
            return false;
        }

        using var limit = new CancellationTokenSource(model.Options.WakeTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            return await sleepMode.IsSleepingAsync(server.Endpoint, linked.Token);
        }
        catch (Exception exception) when (exception is HttpRequestException or SleepModeException
            || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }
}
