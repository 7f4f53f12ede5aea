using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// How a model's server ends: stopped when asked (SIGTERM, killed after the model's <c>StopTimeout</c>), or noticed
/// when it exits on its own. Either way it is let go of, the model enters Stopped (with what went wrong as its last
/// error) and the journal is told.
/// </summary>
internal sealed class ModelStopper(ManagedModel model, TimeProvider time, ModelJournal journal)
{
    /// <param name="eventKind"><see cref="LifecycleEventKind.Stopping"/> or <see cref="LifecycleEventKind.Evicted"/>.</param>
    public async Task StopAsync(IModelServer server, string reason, string eventKind)
    {
        var started = time.GetTimestamp();
        journal.Stopping(eventKind, server, reason);
        var failure = await StopQuietlyAsync(server);
        model.ServerGone(server, failure is null ? null : $"Stopping the server failed: {failure}", onlyIfServing: false);
        journal.Stopped(server, time.GetElapsedTime(started), reason, failure);
    }

    /// <summary>A server that exits on its own is noted (state Stopped, its last output in the error); the next ensure starts it again.</summary>
    public async Task WatchForExitAsync(IModelServer server)
    {
        try
        {
            await server.Exited;
        }
        catch (OperationCanceledException)
        {
            return; // let go of (disposed), not exited
        }

        if (!model.IsServing(server))
        {
            return;
        }

        var error = await server.WithLastOutputAsync($"The server exited on its own ({server.ExitDescription ?? "exited"}).");
        if (model.ServerGone(server, error, onlyIfServing: true))
        {
            journal.Exited(server, error);
            await server.DisposeAsync();
        }
    }

    /// <summary>Stops the server and lets go of it; returns why stopping failed (logged), or null.</summary>
    public async Task<string?> StopQuietlyAsync(IModelServer server)
    {
        string? failure = null;
        try
        {
            await server.StopAsync(model.Options.StopTimeout, CancellationToken.None);
        }
        catch (Exception exception) when (exception is ModelServerException or IOException or InvalidOperationException)
        {
            failure = exception.Message;
            journal.StopFailed(failure);
        }

        await server.DisposeAsync();
        return failure;
    }
}
