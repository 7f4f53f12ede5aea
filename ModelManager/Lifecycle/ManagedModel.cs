using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// One catalog model and its server. <see cref="EnsureAsync"/> is single-flight: however many callers ask at once,
/// one start runs and all of them wait for it; a caller that gives up does not cancel the start for the others.
/// </summary>
public sealed partial class ManagedModel(
    string id,
    CatalogModelOptions options,
    IModelServerRuntime runtime,
    ReadinessProbe probe,
    ModelFleet fleet,
    ModelManagerOptions managerOptions,
    TimeProvider timeProvider,
    ILogger logger)
{
    private readonly Lock gate = new();
    private Task<Uri>? starting;
    private IModelServer? server;
    private int consecutiveFailures;
    private DateTimeOffset retryAt;

    public string Id { get; } = id;

    public CatalogModelOptions Options { get; } = options;

    public ModelState State { get; private set; }

    public Uri? Endpoint => State == ModelState.Ready ? server?.Endpoint : null;

    public DateTimeOffset? LoadedSince { get; private set; }

    public TimeSpan? LastColdStart { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>Bumped on every state change; the change feed reports models by version.</summary>
    public long Version { get; private set; }

    /// <summary>Returns the endpoint of a ready server, starting it first when needed.</summary>
    public Task<Uri> EnsureAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (State == ModelState.Ready && server is { } ready)
            {
                return Task.FromResult(ready.Endpoint);
            }

            if (starting is null)
            {
                var now = timeProvider.GetUtcNow();
                if (State == ModelState.Failed && now < retryAt)
                {
                    throw new ModelUnavailableException($"Model '{Id}' failed to start and is backing off: {LastError}", retryAt - now);
                }

                SetState(ModelState.Starting);
                // Run the start outside this lock: a start that fails synchronously would otherwise clear
                // `starting` under the lock and then have its faulted task stored here anyway.
                starting = Task.Run(StartAsync, CancellationToken.None);
            }

            return starting.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Stops the server (idle, evicted, or asked to); requests still in flight are the caller's concern.</summary>
    public async Task StopAsync(string reason)
    {
        IModelServer? stopping;
        lock (gate)
        {
            if (State != ModelState.Ready || server is null)
            {
                return;
            }

            stopping = server;
            SetState(ModelState.Stopping);
        }

        LogStopping(logger, Id, reason);
        await stopping.StopAsync(Options.StopTimeout);
        await stopping.DisposeAsync();
        lock (gate)
        {
            if (ReferenceEquals(server, stopping))
            {
                server = null;
                LoadedSince = null;
                SetState(ModelState.Stopped);
            }
        }
    }

    private async Task<Uri> StartAsync()
    {
        var started = timeProvider.GetTimestamp();
        IModelServer? launched = null;
        try
        {
            await fleet.MakeRoomForAsync(this);
            launched = await runtime.StartAsync(Id, Options, CancellationToken.None);
            using var timeout = new CancellationTokenSource(Options.StartupTimeout, timeProvider);
            while (!await probe.IsReadyAsync(launched.Endpoint, timeout.Token))
            {
                if (launched.Exited.IsCompleted)
                {
                    throw new InvalidOperationException($"The server exited while loading. Last output:\n{launched.LogTail()}");
                }

                await Task.Delay(managerOptions.ReadinessPollInterval, timeProvider, timeout.Token);
            }

            lock (gate)
            {
                server = launched;
                starting = null;
                consecutiveFailures = 0;
                LastError = null;
                LoadedSince = timeProvider.GetUtcNow();
                LastColdStart = timeProvider.GetElapsedTime(started);
                SetState(ModelState.Ready);
            }

            LogReady(logger, Id, launched.Endpoint, LastColdStart.Value.TotalMilliseconds);
            _ = WatchForExitAsync(launched);
            return launched.Endpoint;
        }
        catch (Exception exception)
        {
            var message = exception is OperationCanceledException
                ? $"The server did not become ready within StartupTimeout ({Options.StartupTimeout}). Last output:\n{launched?.LogTail()}"
                : exception.Message;
            if (launched is not null)
            {
                await launched.DisposeAsync();
            }

            lock (gate)
            {
                starting = null;
                consecutiveFailures++;
                var backoff = TimeSpan.FromTicks(Math.Min(
                    managerOptions.MaxFailureBackoff.Ticks,
                    managerOptions.FailureBackoff.Ticks * (1L << Math.Min(consecutiveFailures - 1, 20))));
                retryAt = timeProvider.GetUtcNow() + backoff;
                LastError = message;
                SetState(ModelState.Failed);
            }

            LogFailed(logger, Id, message);
            throw new ModelUnavailableException($"Model '{Id}' failed to start: {message}", retryAt - timeProvider.GetUtcNow());
        }
    }

    /// <summary>A server that exits on its own is noted; the next ensure starts it again.</summary>
    private async Task WatchForExitAsync(IModelServer watched)
    {
        await watched.Exited;
        lock (gate)
        {
            if (!ReferenceEquals(server, watched) || State != ModelState.Ready)
            {
                return;
            }

            server = null;
            LoadedSince = null;
            LastError = $"The server exited unexpectedly. Last output:\n{watched.LogTail()}";
            SetState(ModelState.Stopped);
        }

        LogCrashed(logger, Id);
        await watched.DisposeAsync();
    }

    private void SetState(ModelState state)
    {
        State = state;
        Version = fleet.NextVersion();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} ready at {Endpoint} after {Milliseconds:F0} ms")]
    private static partial void LogReady(ILogger logger, string model, Uri endpoint, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping model {Model}: {Reason}")]
    private static partial void LogStopping(ILogger logger, string model, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} failed to start: {Error}")]
    private static partial void LogFailed(ILogger logger, string model, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} exited on its own; the next request starts it again")]
    private static partial void LogCrashed(ILogger logger, string model);
}
