using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// One model's start pipeline: after a previous stop and room in the GPU budget, wake the model's sleeping server, adopt
/// a server of the model that is already running (waking it if it is asleep) or have the runtime launch one, then wait
/// for the server's own readiness, timing the cold start phase by phase. A server that does not wake is stopped and a
/// new one launched in the same start. A start that fails is classified (stopped, refused for capacity, abandoned by
/// its callers or at shutdown, or failed with a backoff that doubles per consecutive failure), its server is stopped so
/// that it cannot keep a GPU, and the model is told the outcome.
/// </summary>
internal sealed class ModelStartup(
    ManagedModel model, ModelFleet fleet, IModelServerRuntime runtime, LifecycleServices services, ModelJournal journal, ModelSleeper sleeper,
    ModelStopper stopper)
{
    // Starts run one at a time (single flight), each after the previous one ended.
    private int consecutiveFailures;

    private TimeProvider Time => services.Time;

    /// <summary>
    /// Runs a start to readiness and returns the server's endpoint. <paramref name="adopted"/>: a running server found
    /// at service start, used as it is. <paramref name="asleep"/>: the model's sleeping server, to wake. Fails with
    /// <see cref="ModelUnavailableException"/>.
    /// </summary>
    public async Task<Uri> RunAsync(IModelServer? adopted, IModelServer? asleep, Task previousStop, CancellationToken cancellationToken)
    {
        var started = Time.GetTimestamp();
        long runtimeCalled = 0, runtimeReturned = 0;
        var server = adopted;
        var wasAdopted = adopted is not null;
        try
        {
            await previousStop.WaitAsync(cancellationToken);
            if (server is null)
            {
                // Waking takes GPU memory back as much as a launch does.
                await fleet.MakeRoomForAsync(model, cancellationToken);
                server = asleep ?? await runtime.FindRunningAsync(model.Id, model.Options, cancellationToken);
                wasAdopted = server is not null && asleep is null;
                if (server is not null && (asleep is not null || await sleeper.IsAsleepAsync(server, cancellationToken)))
                {
                    if (await WokenAsync(server, wasAdopted, started, cancellationToken))
                    {
                        return server.Endpoint;
                    }

                    server = null;
                    wasAdopted = false;
                }

                if (server is null)
                {
                    runtimeCalled = Time.GetTimestamp();
                    journal.Launching(Time.GetElapsedTime(started));
                    server = await runtime.StartAsync(model.Id, model.Options, cancellationToken);
                    runtimeReturned = Time.GetTimestamp();
                }
            }

            model.Launched(server);
            if (wasAdopted)
            {
                journal.Adopted(server);
            }

            await WaitUntilReadyAsync(server, cancellationToken);

            var readyAt = Time.GetTimestamp();
            var elapsed = Time.GetElapsedTime(started, readyAt);
            var phases = wasAdopted
                ? null
                : new ColdStartPhases(
                    Time.GetElapsedTime(started, runtimeCalled), Time.GetElapsedTime(runtimeCalled, runtimeReturned), Time.GetElapsedTime(runtimeReturned, readyAt));
            consecutiveFailures = 0;
            model.StartSucceeded(phases);
            journal.Ready(server, elapsed, phases);
            _ = stopper.WatchForExitAsync(server);
            return server.Endpoint;
        }
        catch (Exception exception)
        {
            throw await FailedAsync(exception, server, asleep, cancellationToken.IsCancellationRequested, Time.GetElapsedTime(started));
        }
    }

    /// <summary>
    /// Wakes a sleeping server (the model's, or one found asleep when <paramref name="adopted"/>); true when it is
    /// awake. One that does not wake is stopped, to be replaced (false).
    /// </summary>
    private async Task<bool> WokenAsync(IModelServer server, bool adopted, long started, CancellationToken cancellationToken)
    {
        model.Launched(server);
        if (adopted)
        {
            journal.Adopted(server, asleep: true);
        }

        try
        {
            await sleeper.WakeAsync(server, cancellationToken);
        }
        catch (SleepModeException exception) when (!cancellationToken.IsCancellationRequested)
        {
            var error = await server.WithLastOutputAsync($"Waking the server failed: {exception.Message}.");
            var stopStarted = Time.GetTimestamp();
            var stopFailure = await stopper.StopQuietlyAsync(server);
            journal.WakeFailed(server, Time.GetElapsedTime(stopStarted), error, stopFailure);
            return false;
        }

        consecutiveFailures = 0;
        model.StartSucceeded(phases: null);
        journal.Woken(server, Time.GetElapsedTime(started), model.Options.SleepLevel);
        if (adopted)
        {
            // The model's own sleeping server is watched since it was first ready; a newly found one is not yet.
            _ = stopper.WatchForExitAsync(server);
        }

        return true;
    }

    /// <summary>Ends a start that did not reach readiness, and says to its callers why.</summary>
    private async Task<ModelUnavailableException> FailedAsync(Exception exception, IModelServer? server, IModelServer? asleep, bool cancelled, TimeSpan elapsed)
    {
        if (model.IsReleased && server is not null)
        {
            // Shutting down without stopping: the server keeps loading (or sleeping) and the next ModelManager adopts it.
            await server.DisposeAsync();
            model.StartStopped();
            return ModelUnavailableException.ShuttingDown();
        }

        if (exception is ModelUnavailableException { Code: "capacity_exhausted" } capacity)
        {
            // Refused before anything was launched or woken: a sleeping server stays asleep.
            model.StartRefused(stillAsleep: asleep is not null);
            return capacity;
        }

        var abandoned = cancelled && model.IsAbandoned;
        var error = exception switch
        {
            _ when abandoned => $"The load was cancelled: {model.StopReason}.",
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

        if (abandoned)
        {
            model.StartStopped(error);
            journal.Abandoned(server, elapsed, error);
            return new ModelUnavailableException($"Model '{model.Id}' was not loaded: nobody waited for it any more.", TimeSpan.FromSeconds(1), "model_stopped");
        }

        if (cancelled)
        {
            model.StartStopped();
            journal.StartCancelled(server, elapsed, error);
            return new ModelUnavailableException($"Model '{model.Id}' was stopped while loading.", TimeSpan.FromSeconds(1), "model_stopped");
        }

        var retryAfter = Backoff.After(++consecutiveFailures, services.Manager.FailureBackoff, services.Manager.MaxFailureBackoff);
        model.StartFailed(error, Time.GetUtcNow() + retryAfter);
        journal.StartFailed(server, elapsed, error);
        return new ModelUnavailableException($"Model '{model.Id}' failed to start: {error}", retryAfter);
    }

    /// <summary>Readiness is the server's own: <c>/health</c> then <c>/v1/models</c> answering, polled at <c>ReadinessPollInterval</c>.</summary>
    private async Task WaitUntilReadyAsync(IModelServer server, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(model.Options.StartupTimeout, Time);
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
                if (await services.Probe.IsReadyAsync(server.Endpoint, linked.Token))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                continue;
            }

            await Task.WhenAny(server.Exited, Task.Delay(services.Manager.ReadinessPollInterval, Time, linked.Token));
        }
    }

    private sealed class StartupTimeoutException() : Exception("startup timeout");

    private sealed class ServerExitedException(string exit) : Exception(exit);
}
