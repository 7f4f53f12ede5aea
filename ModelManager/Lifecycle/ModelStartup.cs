using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// One model's start pipeline: after a previous stop and room in the GPU budget, adopt a server of the model that is
/// already running or have the runtime launch one, then wait for the server's own readiness, timing the cold start
/// phase by phase. A start that fails is classified (stopped, refused for capacity, abandoned at shutdown, or failed
/// with a backoff that doubles per consecutive failure), its server is stopped so that it cannot keep a GPU, and the
/// model is told the outcome.
/// </summary>
internal sealed class ModelStartup(
    ManagedModel model, ModelFleet fleet, IModelServerRuntime runtime, ReadinessProbe probe, ModelManagerOptions managerOptions,
    TimeProvider time, ModelJournal journal, ModelStopper stopper)
{
    // Starts run one at a time (single flight), each after the previous one ended.
    private int consecutiveFailures;

    /// <summary>
    /// Runs a start to readiness and returns the server's endpoint. <paramref name="adopted"/>: a running server found
    /// at service start, used as it is. Fails with <see cref="ModelUnavailableException"/>.
    /// </summary>
    public async Task<Uri> RunAsync(IModelServer? adopted, Task previousStop, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        long runtimeCalled = 0, runtimeReturned = 0;
        var server = adopted;
        var wasAdopted = adopted is not null;
        try
        {
            await previousStop.WaitAsync(cancellationToken);
            if (server is null)
            {
                await fleet.MakeRoomForAsync(model, cancellationToken);
                server = await runtime.FindRunningAsync(model.Id, model.Options, cancellationToken);
                wasAdopted = server is not null;
                if (server is null)
                {
                    runtimeCalled = time.GetTimestamp();
                    journal.Launching(time.GetElapsedTime(started));
                    server = await runtime.StartAsync(model.Id, model.Options, cancellationToken);
                    runtimeReturned = time.GetTimestamp();
                }
            }

            model.Launched(server);
            if (wasAdopted)
            {
                journal.Adopted(server);
            }

            await WaitUntilReadyAsync(server, cancellationToken);

            var readyAt = time.GetTimestamp();
            var elapsed = time.GetElapsedTime(started, readyAt);
            var phases = wasAdopted
                ? null
                : new ColdStartPhases(
                    time.GetElapsedTime(started, runtimeCalled), time.GetElapsedTime(runtimeCalled, runtimeReturned), time.GetElapsedTime(runtimeReturned, readyAt));
            consecutiveFailures = 0;
            model.StartSucceeded(phases);
            journal.Ready(server, elapsed, phases);
            _ = stopper.WatchForExitAsync(server);
            return server.Endpoint;
        }
        catch (Exception exception)
        {
            throw await FailedAsync(exception, server, cancellationToken.IsCancellationRequested, time.GetElapsedTime(started));
        }
    }

    /// <summary>Ends a start that did not reach readiness, and says to its callers why.</summary>
    private async Task<ModelUnavailableException> FailedAsync(Exception exception, IModelServer? server, bool cancelled, TimeSpan elapsed)
    {
        if (model.IsReleased && server is not null)
        {
            // Shutting down without stopping: the server keeps loading and the next ModelManager adopts it.
            await server.DisposeAsync();
            model.StartStopped();
            return ModelUnavailableException.ShuttingDown();
        }

        if (exception is ModelUnavailableException { Code: "capacity_exhausted" } capacity)
        {
            model.StartStopped();
            return capacity;
        }

        var error = exception switch
        {
            _ when cancelled => $"The start was cancelled: {model.StopReason ?? "stopped"}.",
            StartupTimeoutException => $"The server did not become ready within StartupTimeout ({model.Options.StartupTimeout}).",
            ServerExitedException exited => $"The server exited while loading ({exited.Message}).",
            _ => exception.Message,
        };
        if (server is not null)
        {
            error = await server.WithLastOutputAsync(error);
            // A server that failed to load must not keep its GPU.
            await stopper.StopQuietlyAsync(server);
        }

        if (cancelled)
        {
            model.StartStopped();
            journal.StartCancelled(server, elapsed, error);
            return new ModelUnavailableException($"Model '{model.Id}' was stopped while loading.", TimeSpan.FromSeconds(1), "model_stopped");
        }

        var retryAfter = Backoff.After(++consecutiveFailures, managerOptions.FailureBackoff, managerOptions.MaxFailureBackoff);
        model.StartFailed(error, time.GetUtcNow() + retryAfter);
        journal.StartFailed(server, elapsed, error);
        return new ModelUnavailableException($"Model '{model.Id}' failed to start: {error}", retryAfter);
    }

    /// <summary>Readiness is the server's own: <c>/health</c> then <c>/v1/models</c> answering, polled at <c>ReadinessPollInterval</c>.</summary>
    private async Task WaitUntilReadyAsync(IModelServer server, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(model.Options.StartupTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (timeout.IsCancellationRequested)
            {
                throw new StartupTimeoutException();
            }

            if (server.Exited.IsCompleted)
            {
                throw new ServerExitedException(server.ExitDescription ?? "exited");
            }

            try
            {
                if (await probe.IsReadyAsync(server.Endpoint, linked.Token))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                continue;
            }

            await Task.WhenAny(server.Exited, Task.Delay(managerOptions.ReadinessPollInterval, time, linked.Token));
        }
    }

    private sealed class StartupTimeoutException() : Exception("startup timeout");

    private sealed class ServerExitedException(string exit) : Exception(exit);
}
