using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Telemetry;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// One catalog model and its server, as a state machine: Stopped → Starting → Ready → Stopping → Stopped, and Failed
/// (with exponential backoff) when a start does not succeed. <see cref="EnsureAsync(CancellationToken)"/> is
/// single-flight: however many callers ask at once, one start runs and all of them wait for it; a caller that gives up
/// does not cancel the start for the others. This class decides, under the model's lock, and every state change goes
/// through <see cref="Enter"/>; starting a server is <see cref="ModelStartup"/>'s work, ending one
/// <see cref="ModelStopper"/>'s, and what happens is told to <see cref="ModelJournal"/>.
/// </summary>
internal sealed class ManagedModel
{
    private readonly Lock gate = new();
    private readonly ModelFleet fleet;
    private readonly IModelServerRuntime runtime;
    private readonly ReadinessProbe probe;
    private readonly TimeProvider time;
    private readonly ModelJournal journal;
    private readonly ModelStartup startup;
    private readonly ModelStopper stopper;

    // Under the lock, with the state: the server (starting, ready or stopping), the start under way and how to cancel
    // it (and why it was), the stop under way, the end of the backoff, and whether shutdown let go.
    private IModelServer? server;
    private Task<Uri>? starting;
    private CancellationTokenSource? startCancellation;
    private string? stopReason;
    private Task stopping = Task.CompletedTask;
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
        this.time = time;
        journal = new ModelJournal(id, RuntimeName, events, metrics, time, logger);
        stopper = new ModelStopper(this, time, journal);
        startup = new ModelStartup(this, fleet, runtime, probe, managerOptions, time, journal, stopper);
        StateChangedAt = time.GetUtcNow();
    }

    public string Id { get; }

    public CatalogModelOptions Options { get; }

    /// <summary><c>process</c> or <c>docker</c>.</summary>
    public string RuntimeName => runtime.Kind.ToString().ToLowerInvariant();

    public ModelState State { get; private set; }

    public DateTimeOffset StateChangedAt { get; private set; }

    /// <summary>Where the server answers, once it is ready.</summary>
    public Uri? Endpoint => Locked(() => State == ModelState.Ready ? server?.Endpoint : null);

    /// <summary>Container id or process id of the current server (starting, ready or stopping).</summary>
    public string? Instance => Locked(() => server?.Instance);

    public DateTimeOffset? LoadedSince { get; private set; }

    /// <summary>Start request to ready, of the last start that launched a server (an adoption is not a cold start).</summary>
    public TimeSpan? LastColdStart => LastColdStartPhases?.Total;

    /// <summary>Where the last cold start's time went (see <see cref="ColdStartPhases"/>).</summary>
    public ColdStartPhases? LastColdStartPhases { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>While <see cref="ModelState.Failed"/>: when the next start may be tried.</summary>
    public DateTimeOffset? RetryAt => Locked<DateTimeOffset?>(() => State == ModelState.Failed ? retryAt : null);

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
                    throw ModelUnavailableException.ShuttingDown();
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
            journal.Refusing(endpoint);
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
            journal.AdoptionFailed(exception.Message);
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
                case ModelState.Starting when starting is not null && onlyIf?.Invoke() != false:
                    stopReason = reason;
                    cancelStart = startCancellation;
                    wait = starting;
                    break;
                case ModelState.Ready when server is { } victim && onlyIf?.Invoke() != false:
                    Enter(ModelState.Stopping);
                    stopping = Task.Run(() => stopper.StopAsync(victim, reason, eventKind), CancellationToken.None);
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
        await IgnoringStartFailure(wait);
        return true;
    }

    /// <summary>Completes when a stop under way has finished.</summary>
    internal Task WhenStoppedAsync() => Locked(() => stopping);

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
            await IgnoringStartFailure(pending);
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

    /// <summary>Waits for a start or stop; how a start ended is its own callers' news.</summary>
    private static async Task IgnoringStartFailure(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception exception) when (exception is ModelUnavailableException or OperationCanceledException)
        {
        }
    }

    /// <summary>Under the lock.</summary>
    private void BeginStart(IModelServer? adopted)
    {
        var cancellation = new CancellationTokenSource();
        startCancellation = cancellation;
        stopReason = null;
        var previousStop = stopping;
        Enter(ModelState.Starting);
        // Run the start outside this lock: a start that fails synchronously would otherwise clear `starting` under the
        // lock and then have its faulted task stored here anyway.
        var task = Task.Run(
            async () =>
            {
                using (cancellation)
                {
                    return await startup.RunAsync(adopted, previousStop, cancellation.Token);
                }
            },
            CancellationToken.None);
        _ = task.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        starting = task;
    }

    // The transitions the start and stop pipelines report; each takes the lock and changes the state through Enter.

    /// <summary>Shutdown has let go of the model: a start that fails now leaves its server to the next ModelManager.</summary>
    internal bool IsReleased => Locked(() => released);

    /// <summary>Why the start under way was cancelled, when a stop cancelled it.</summary>
    internal string? StopReason => Locked(() => stopReason);

    /// <summary>The start has its server (launched or adopted), not ready yet.</summary>
    internal void Launched(IModelServer launched)
    {
        lock (gate)
        {
            server = launched;
        }
    }

    /// <summary>The start's server passed its readiness checks; <paramref name="phases"/> is null for an adopted server.</summary>
    internal void StartSucceeded(ColdStartPhases? phases)
    {
        lock (gate)
        {
            LastError = null;
            LoadedSince = time.GetUtcNow();
            if (phases is not null)
            {
                LastColdStartPhases = phases;
            }

            EndStart(ModelState.Ready);
        }
    }

    /// <summary>The start ended without a server and without blame: cancelled, refused for capacity, or abandoned at shutdown.</summary>
    internal void StartStopped()
    {
        lock (gate)
        {
            EndStart(ModelState.Stopped);
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

    /// <summary>Whether <paramref name="candidate"/> is the model's server and the model is ready.</summary>
    internal bool IsServing(IModelServer candidate) => Locked(() => ReferenceEquals(server, candidate) && State == ModelState.Ready);

    /// <summary>
    /// <paramref name="gone"/> was stopped or exited: the model enters Stopped, with <paramref name="error"/> as its
    /// last error when given. Nothing changes (false) unless it is still the model's server and, with
    /// <paramref name="onlyIfReady"/>, the model is ready.
    /// </summary>
    internal bool ServerGone(IModelServer gone, string? error, bool onlyIfReady)
    {
        lock (gate)
        {
            if (!ReferenceEquals(server, gone) || (onlyIfReady && State != ModelState.Ready))
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

    /// <summary>
    /// Under the lock, the one place the state changes: a model that enters Stopped or Failed no longer has a server
    /// and is not loaded. Every change gets a new fleet version (which wakes the change feed) and is measured.
    /// </summary>
    private void Enter(ModelState state)
    {
        if (state is ModelState.Stopped or ModelState.Failed)
        {
            server = null;
            LoadedSince = null;
        }

        var from = State;
        State = state;
        StateChangedAt = time.GetUtcNow();
        Version = fleet.NextVersion();
        journal.Transition(from, state);
    }
}
