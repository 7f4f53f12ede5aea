using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Telemetry;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// One catalog model and its server, as a state machine: Stopped → Starting → Ready → Stopping → Stopped, and Failed
/// (with exponential backoff) when a start does not succeed. <see cref="EnsureAsync"/> is single-flight: however many
/// callers ask at once, one start runs and all of them wait for it; a caller that gives up does not cancel the start
/// for the others. A start first looks for a server of this model that is already running (left by a previous
/// ModelManager) and adopts it, so there is never a second one.
/// </summary>
public sealed partial class ManagedModel
{
    private static readonly TimeSpan LogTailTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock gate = new();
    private readonly ModelFleet fleet;
    private readonly IModelServerRuntime runtime;
    private readonly ReadinessProbe probe;
    private readonly ModelManagerOptions managerOptions;
    private readonly TimeProvider time;
    private readonly ILifecycleEventSink events;
    private readonly ModelManagerMetrics metrics;
    private readonly ILogger logger;

    private Task<Uri>? starting;
    private CancellationTokenSource? startCancellation;
    private string? stopReason;
    private Task stopping = Task.CompletedTask;
    private IModelServer? server;
    private int consecutiveFailures;
    private DateTimeOffset retryAt;
    private bool released;

    internal ManagedModel(
        string id, CatalogModelOptions options, ModelFleet fleet, IModelServerRuntime runtime, ReadinessProbe probe,
        ModelManagerOptions managerOptions, TimeProvider time, ILifecycleEventSink events, ModelManagerMetrics metrics, ILogger logger)
    {
        Id = id;
        Options = options;
        this.fleet = fleet;
        this.runtime = runtime;
        this.probe = probe;
        this.managerOptions = managerOptions;
        this.time = time;
        this.events = events;
        this.metrics = metrics;
        this.logger = logger;
        StateChangedAt = time.GetUtcNow();
    }

    public string Id { get; }

    public CatalogModelOptions Options { get; }

    /// <summary><c>process</c> or <c>docker</c>.</summary>
    public string RuntimeName => runtime.Kind.ToString().ToLowerInvariant();

    public ModelState State { get; private set; }

    public DateTimeOffset StateChangedAt { get; private set; }

    /// <summary>Where the server answers, once it is ready.</summary>
    public Uri? Endpoint
    {
        get
        {
            lock (gate)
            {
                return State == ModelState.Ready ? server?.Endpoint : null;
            }
        }
    }

    /// <summary>Container id or process id of the current server (starting, ready or stopping).</summary>
    public string? Instance
    {
        get
        {
            lock (gate)
            {
                return server?.Instance;
            }
        }
    }

    public DateTimeOffset? LoadedSince { get; private set; }

    /// <summary>Start request to ready, of the last start that launched a server (an adoption is not a cold start).</summary>
    public TimeSpan? LastColdStart => LastColdStartPhases?.Total;

    /// <summary>Where the last cold start's time went (see <see cref="ColdStartPhases"/>).</summary>
    public ColdStartPhases? LastColdStartPhases { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>While <see cref="ModelState.Failed"/>: when the next start may be tried.</summary>
    public DateTimeOffset? RetryAt
    {
        get
        {
            lock (gate)
            {
                return State == ModelState.Failed ? retryAt : null;
            }
        }
    }

    /// <summary>Bumped on every state change; the change feed reports the fleet by version.</summary>
    public long Version { get; private set; }

    /// <summary>Returns the endpoint of a ready server, starting it (or joining the start under way) first when needed.</summary>
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
                var now = time.GetUtcNow();
                if (State == ModelState.Failed && now < retryAt)
                {
                    throw new ModelUnavailableException(
                        $"Model '{Id}' failed to start and is backing off until {retryAt:O}: {LastError}", retryAt - now, "model_backing_off");
                }

                if (released)
                {
                    throw new ModelUnavailableException("ModelManager is shutting down.", TimeSpan.FromSeconds(5), "shutting_down");
                }

                BeginStart(adopted: null);
            }

            return starting!.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Like <see cref="EnsureAsync(CancellationToken)"/>, but when <paramref name="verify"/> is set, a ready server is
    /// first checked: if it refuses connections (it died and its exit has not been noticed yet, or something else
    /// killed its listener), it is stopped and a new one started. What a gateway asks for after a refused connection.
    /// </summary>
    public async Task<Uri> EnsureAsync(bool verify, CancellationToken cancellationToken)
    {
        if (verify && State == ModelState.Ready && Endpoint is { } endpoint && await probe.RefusesConnectionsAsync(endpoint, cancellationToken))
        {
            LogRefusing(logger, Id, endpoint);
            await StopAsync($"its server at {endpoint} refuses connections", LifecycleEventKind.Stopping, () => server?.Endpoint == endpoint);
        }

        return await EnsureAsync(cancellationToken);
    }

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
            LogAdoptionFailed(logger, Id, exception.Message);
            return;
        }

        if (found is null)
        {
            return;
        }

        lock (gate)
        {
            if (starting is null && State is ModelState.Stopped or ModelState.Failed && !released)
            {
                BeginStart(found);
                return;
            }
        }

        // A start is already under way; it looks for running servers itself.
        await found.DisposeAsync();
    }

    /// <summary>
    /// Stops the server: a ready one is stopped (requests still in flight are the caller's concern: the idle reaper and
    /// eviction only stop models with none), a starting one has its start cancelled. Returns false when there was
    /// nothing to stop or <paramref name="onlyIf"/> (checked under the model's lock) said no.
    /// </summary>
    public async Task<bool> StopAsync(string reason, string eventKind = LifecycleEventKind.Stopping, Func<bool>? onlyIf = null)
    {
        Task wait;
        CancellationTokenSource? cancelStart = null;
        lock (gate)
        {
            switch (State)
            {
                case ModelState.Starting when starting is not null:
                    if (onlyIf?.Invoke() == false)
                    {
                        return false;
                    }

                    stopReason = reason;
                    cancelStart = startCancellation;
                    wait = starting;
                    break;
                case ModelState.Ready when server is not null:
                    if (onlyIf?.Invoke() == false)
                    {
                        return false;
                    }

                    var victim = server;
                    SetState(ModelState.Stopping);
                    stopping = Task.Run(() => StopServerAsync(victim, reason, eventKind), CancellationToken.None);
                    wait = stopping;
                    break;
                case ModelState.Stopping:
                    wait = stopping;
                    break;
                default:
                    return false;
            }
        }

        // Cancelled outside the lock: cancellation runs the start's failure path inline, which takes the lock.
        CancelQuietly(cancelStart);
        try
        {
            await wait;
        }
        catch (Exception exception) when (exception is ModelUnavailableException or OperationCanceledException)
        {
        }

        return true;
    }

    /// <summary>Completes when a stop under way has finished.</summary>
    internal Task WhenStoppedAsync()
    {
        lock (gate)
        {
            return stopping;
        }
    }

    /// <summary>
    /// At service shutdown: stops the server when <paramref name="stop"/>, otherwise lets go of it, running, for the
    /// next ModelManager to adopt. A start under way is abandoned either way.
    /// </summary>
    internal async Task ReleaseAsync(bool stop)
    {
        if (stop)
        {
            await StopAsync("ModelManager is shutting down");
        }

        Task? pending;
        IModelServer? current;
        CancellationTokenSource? cancelStart;
        lock (gate)
        {
            released = true;
            cancelStart = startCancellation;
            pending = starting;
            current = State == ModelState.Ready ? server : null;
        }

        CancelQuietly(cancelStart);

        if (pending is not null)
        {
            try
            {
                await pending;
            }
            catch (Exception exception) when (exception is ModelUnavailableException or OperationCanceledException)
            {
            }
        }

        if (current is not null)
        {
            await current.DisposeAsync();
        }
    }

    private static void CancelQuietly(CancellationTokenSource? cancellation)
    {
        try
        {
            cancellation?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the start has just ended
        }
    }

    private void BeginStart(IModelServer? adopted)
    {
        var cancellation = new CancellationTokenSource();
        startCancellation = cancellation;
        stopReason = null;
        var previousStop = stopping;
        SetState(ModelState.Starting);
        // Run the start outside this lock: a start that fails synchronously would otherwise clear `starting` under the
        // lock and then have its faulted task stored here anyway.
        var task = Task.Run(() => StartAsync(adopted, previousStop, cancellation), CancellationToken.None);
        _ = task.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        starting = task;
    }

    private async Task<Uri> StartAsync(IModelServer? adopted, Task previousStop, CancellationTokenSource cancellation)
    {
        var token = cancellation.Token;
        var started = time.GetTimestamp();
        long runtimeCalled = 0, launchedAt = 0;
        var launched = adopted;
        var wasAdopted = adopted is not null;
        try
        {
            await previousStop.WaitAsync(token);
            if (launched is null)
            {
                await fleet.MakeRoomForAsync(this, token);
                launched = await runtime.FindRunningAsync(Id, Options, token);
                wasAdopted = launched is not null;
                if (launched is null)
                {
                    runtimeCalled = time.GetTimestamp();
                    Record(LifecycleEventKind.Starting, duration: time.GetElapsedTime(started));
                    launched = await runtime.StartAsync(Id, Options, token);
                    launchedAt = time.GetTimestamp();
                }
            }

            lock (gate)
            {
                server = launched;
            }

            if (wasAdopted)
            {
                Record(LifecycleEventKind.Adopted, launched);
            }

            await WaitUntilReadyAsync(launched, token);

            var readyAt = time.GetTimestamp();
            var elapsed = time.GetElapsedTime(started, readyAt);
            var phases = wasAdopted
                ? null
                : new ColdStartPhases(time.GetElapsedTime(started, runtimeCalled), time.GetElapsedTime(runtimeCalled, launchedAt), time.GetElapsedTime(launchedAt, readyAt));
            lock (gate)
            {
                starting = null;
                startCancellation = null;
                consecutiveFailures = 0;
                LastError = null;
                LoadedSince = time.GetUtcNow();
                if (phases is not null)
                {
                    LastColdStartPhases = phases;
                }

                SetState(ModelState.Ready);
            }

            if (!wasAdopted)
            {
                metrics.ColdStart(Id, RuntimeName, elapsed);
            }

            Record(LifecycleEventKind.Ready, launched, elapsed, wasAdopted ? "adopted" : phases!.ToString());
            _ = WatchForExitAsync(launched);
            return launched.Endpoint;
        }
        catch (Exception exception)
        {
            throw await StartFailedAsync(exception, launched, token.IsCancellationRequested, time.GetElapsedTime(started));
        }
        finally
        {
            cancellation.Dispose();
        }
    }

    private async Task<ModelUnavailableException> StartFailedAsync(Exception exception, IModelServer? launched, bool cancelled, TimeSpan elapsed)
    {
        bool abandoned;
        lock (gate)
        {
            abandoned = released;
        }

        if (abandoned && launched is not null)
        {
            // Shutting down without stopping: the server keeps loading and the next ModelManager adopts it.
            await launched.DisposeAsync();
            lock (gate)
            {
                starting = null;
                startCancellation = null;
                server = null;
                SetState(ModelState.Stopped);
            }

            return new ModelUnavailableException("ModelManager is shutting down.", TimeSpan.FromSeconds(5), "shutting_down");
        }

        if (exception is ModelUnavailableException { Code: "capacity_exhausted" } capacity)
        {
            lock (gate)
            {
                starting = null;
                startCancellation = null;
                SetState(ModelState.Stopped);
            }

            return capacity;
        }

        var message = exception switch
        {
            _ when cancelled => $"The start was cancelled: {stopReason ?? "stopped"}.",
            StartupTimeoutException => $"The server did not become ready within StartupTimeout ({Options.StartupTimeout}).",
            ServerExitedException exited => $"The server exited while loading ({exited.Message}).",
            _ => exception.Message,
        };
        if (launched is not null)
        {
            var tail = await LogTailAsync(launched);
            if (tail.Length > 0)
            {
                message += $"\nLast output:\n{tail}";
            }

            try
            {
                // A server that failed to load must not keep its GPU.
                await launched.StopAsync(Options.StopTimeout, CancellationToken.None);
            }
            catch (Exception stopFailure) when (stopFailure is ModelServerException or IOException or InvalidOperationException)
            {
                LogStopFailed(logger, Id, stopFailure.Message);
            }

            await launched.DisposeAsync();
        }

        TimeSpan retryAfter;
        lock (gate)
        {
            starting = null;
            startCancellation = null;
            server = null;
            LoadedSince = null;
            if (cancelled)
            {
                retryAfter = TimeSpan.FromSeconds(1);
                SetState(ModelState.Stopped);
            }
            else
            {
                consecutiveFailures++;
                retryAfter = Backoff.After(consecutiveFailures, managerOptions.FailureBackoff, managerOptions.MaxFailureBackoff);
                retryAt = time.GetUtcNow() + retryAfter;
                LastError = message;
                SetState(ModelState.Failed);
            }
        }

        if (cancelled)
        {
            Record(LifecycleEventKind.Stopped, launched, elapsed, message);
            return new ModelUnavailableException($"Model '{Id}' was stopped while loading.", retryAfter, "model_stopped");
        }

        metrics.StartFailed(Id, RuntimeName);
        Record(LifecycleEventKind.Failed, launched, elapsed, message);
        LogFailed(logger, Id, message);
        return new ModelUnavailableException($"Model '{Id}' failed to start: {message}", retryAfter);
    }

    /// <summary>Readiness is the server's own: <c>/health</c> then <c>/v1/models</c> answering, polled at <c>ReadinessPollInterval</c>.</summary>
    private async Task WaitUntilReadyAsync(IModelServer launched, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(Options.StartupTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (timeout.IsCancellationRequested)
            {
                throw new StartupTimeoutException();
            }

            if (launched.Exited.IsCompleted)
            {
                throw new ServerExitedException(launched.ExitDescription ?? "exited");
            }

            try
            {
                if (await probe.IsReadyAsync(launched.Endpoint, linked.Token))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                continue;
            }

            await Task.WhenAny(launched.Exited, Task.Delay(managerOptions.ReadinessPollInterval, time, linked.Token));
        }
    }

    /// <summary>A server that exits on its own is noted (state Stopped, its last output in the error); the next ensure starts it again.</summary>
    private async Task WatchForExitAsync(IModelServer watched)
    {
        try
        {
            await watched.Exited;
        }
        catch (OperationCanceledException)
        {
            return; // let go of (disposed), not exited
        }

        lock (gate)
        {
            if (!ReferenceEquals(server, watched) || State != ModelState.Ready)
            {
                return;
            }
        }

        var tail = await LogTailAsync(watched);
        var message = $"The server exited on its own ({watched.ExitDescription ?? "exited"}).{(tail.Length > 0 ? $"\nLast output:\n{tail}" : "")}";
        lock (gate)
        {
            if (!ReferenceEquals(server, watched) || State != ModelState.Ready)
            {
                return;
            }

            server = null;
            LoadedSince = null;
            LastError = message;
            SetState(ModelState.Stopped);
        }

        Record(LifecycleEventKind.Exited, watched, detail: message);
        LogExited(logger, Id, watched.ExitDescription ?? "exited");
        await watched.DisposeAsync();
    }

    private async Task StopServerAsync(IModelServer victim, string reason, string eventKind)
    {
        var started = time.GetTimestamp();
        Record(eventKind, victim, detail: reason);
        string? failure = null;
        try
        {
            await victim.StopAsync(Options.StopTimeout, CancellationToken.None);
        }
        catch (Exception exception) when (exception is ModelServerException or IOException or InvalidOperationException)
        {
            failure = exception.Message;
            LogStopFailed(logger, Id, exception.Message);
        }

        await victim.DisposeAsync();
        lock (gate)
        {
            if (ReferenceEquals(server, victim))
            {
                server = null;
                LoadedSince = null;
                if (failure is not null)
                {
                    LastError = $"Stopping the server failed: {failure}";
                }

                SetState(ModelState.Stopped);
            }
        }

        Record(LifecycleEventKind.Stopped, victim, time.GetElapsedTime(started), failure is null ? reason : $"{reason}; stop failed: {failure}");
    }

    private async Task<string> LogTailAsync(IModelServer target)
    {
        try
        {
            using var timeout = new CancellationTokenSource(LogTailTimeout);
            return await target.LogTailAsync(timeout.Token);
        }
        catch (Exception exception) when (exception is OperationCanceledException or ModelServerException or IOException)
        {
            return "";
        }
    }

    private void SetState(ModelState state)
    {
        var from = State;
        State = state;
        StateChangedAt = time.GetUtcNow();
        Version = fleet.NextVersion();
        metrics.Transition(Id, from, state);
    }

    private void Record(string kind, IModelServer? target = null, TimeSpan? duration = null, string? detail = null) =>
        events.Record(new LifecycleEvent(time.GetUtcNow(), Id, kind, RuntimeName, target?.Instance, target?.Endpoint, duration?.TotalMilliseconds, detail));

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} failed to start: {Error}")]
    private static partial void LogFailed(ILogger logger, string model, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stopping the server of model {Model} failed: {Error}")]
    private static partial void LogStopFailed(ILogger logger, string model, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} exited on its own ({Exit}); the next request starts it again")]
    private static partial void LogExited(ILogger logger, string model, string exit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The server of model {Model} at {Endpoint} refuses connections; starting it again")]
    private static partial void LogRefusing(ILogger logger, string model, Uri endpoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "Looking for a running server of model {Model} to adopt failed: {Error}")]
    private static partial void LogAdoptionFailed(ILogger logger, string model, string error);

    private sealed class StartupTimeoutException() : Exception("startup timeout");

    private sealed class ServerExitedException(string exit) : Exception(exit);
}

/// <summary>
/// A cold start, phase by phase: <see cref="Wait"/> from the start request to the runtime's start call (a previous
/// stop, evictions to make room, looking for a running server), <see cref="Launch"/> the runtime call itself (image
/// check, container create and start, process spawn), <see cref="Load"/> from there until the server's readiness
/// checks pass (weights loaded). What the platform adds after that is the gateway's to measure.
/// </summary>
public sealed record ColdStartPhases(TimeSpan Wait, TimeSpan Launch, TimeSpan Load)
{
    public TimeSpan Total => Wait + Launch + Load;

    public override string ToString() => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"wait {Wait.TotalMilliseconds:F0} ms, launch {Launch.TotalMilliseconds:F0} ms, load {Load.TotalMilliseconds:F0} ms");
}
