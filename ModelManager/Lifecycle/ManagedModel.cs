using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// One catalog model and its server, as a state machine: Stopped → Starting → Ready → Stopping → Stopped, Sleeping
/// (vLLM sleep mode) between Ready and Stopping, and Failed (with exponential backoff) when a start does not succeed.
/// <see cref="EnsureAsync(CancellationToken)"/> is single-flight: however many callers ask at once, one start (or
/// wake-up) runs and all of them wait for it; a caller that gives up does not cancel it for the others, unless the
/// model's <see cref="CatalogModelOptions.OnAbandonedLoad"/> says to cancel a load nobody waits for any more. This class
/// decides, under the model's lock, and every state change goes through <see cref="Enter"/>; starting or waking a
/// server is <see cref="ModelStartup"/>'s work, putting it to sleep <see cref="ModelSleeper"/>'s, ending it
/// <see cref="ModelStopper"/>'s, and what happens is told to <see cref="ModelJournal"/>. The transitions those report
/// are in ManagedModel.Transitions.cs.
/// </summary>
internal sealed partial class ManagedModel
{
    private readonly Lock gate = new();
    private readonly ModelFleet fleet;
    private readonly IModelServerRuntime runtime;
    private readonly ActivityTracker activity;
    private readonly LifecycleServices services;
    private readonly ModelJournal journal;
    private readonly ModelStartup startup;
    private readonly ModelSleeper sleeper;
    private readonly ModelStopper stopper;

    // Under the lock, with the state: the server (starting, ready, sleeping or stopping), the start under way and how
    // to cancel it (and why it was), the stop under way, the sleep call under way, the end of the backoff, and whether
    // shutdown let go.
    private IModelServer? server;
    private Task<Uri>? starting;
    private CancellationTokenSource? startCancellation;
    private string? stopReason;
    private Task stopping = Task.CompletedTask;
    private Task settling = Task.CompletedTask;
    private DateTimeOffset retryAt;
    private bool released;

    internal ManagedModel(string id, CatalogModelOptions options, ModelFleet fleet, IModelServerRuntime runtime, LifecycleServices services)
    {
        Id = id;
        Options = options;
        this.fleet = fleet;
        this.runtime = runtime;
        this.services = services;
        activity = services.Activity;
        journal = new ModelJournal(id, RuntimeName, services.Events, services.Metrics, services.Time, services.Logger);
        stopper = new ModelStopper(this, services.Time, journal);
        sleeper = new ModelSleeper(this, services.SleepMode, stopper, services.Time, journal);
        startup = new ModelStartup(this, fleet, runtime, services, journal, sleeper, stopper);
        StateChangedAt = services.Time.GetUtcNow();
    }

    public string Id { get; }

    public CatalogModelOptions Options { get; }

    /// <summary><c>process</c> or <c>docker</c>.</summary>
    public string RuntimeName => runtime.Kind.ToString().ToLowerInvariant();

    public ModelState State { get; private set; }

    public DateTimeOffset StateChangedAt { get; private set; }

    /// <summary>Where the server answers, once it is ready.</summary>
    public Uri? Endpoint => Locked(() => State == ModelState.Ready ? server?.Endpoint : null);

    /// <summary>Container id or process id of the current server (starting, ready, sleeping or stopping).</summary>
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

    /// <summary>Whether the idle reaper and eviction put it to sleep (it has a <c>SleepAfter</c>) rather than stop it.</summary>
    public bool Sleeps => Options.SleepAfter is not null;

    /// <summary>Returns the endpoint of a ready server, starting or waking it (or joining the start under way) first when needed.</summary>
    public Task<Uri> EnsureAsync(CancellationToken cancellationToken) => JoinAsync(Timeout.InfiniteTimeSpan, cancellationToken);

    /// <summary>
    /// Like <see cref="EnsureAsync(CancellationToken)"/>, but when <paramref name="verify"/> is set, a ready server is
    /// first checked: if it refuses connections (it died and its exit has not been noticed yet, or something else
    /// killed its listener), it is stopped and a new one started. What a gateway asks for after a refused connection.
    /// Past <paramref name="patience"/> this caller gets a <see cref="TimeoutException"/> and the load goes on (the
    /// caller is to ask again); a caller that leaves (<paramref name="cancellationToken"/>) no longer waits for it.
    /// </summary>
    public async Task<Uri> EnsureAsync(bool verify, TimeSpan patience, CancellationToken cancellationToken)
    {
        if (verify && State == ModelState.Ready && Endpoint is { } endpoint && await services.Probe.RefusesConnectionsAsync(endpoint, cancellationToken))
        {
            journal.Refusing(endpoint);
            await StopAsync($"its server at {endpoint} refuses connections", LifecycleEventKind.Stopping, () => server?.Endpoint == endpoint);
        }

        return await JoinAsync(patience, cancellationToken);
    }

    /// <summary>
    /// Stops the server: a ready or sleeping one is stopped (requests still in flight are the caller's concern: the idle
    /// reaper and eviction only stop models with none), a starting one has its start cancelled. Returns false when
    /// there was nothing to stop or <paramref name="onlyIf"/> (checked under the model's lock) said no.
    /// </summary>
    public async Task<bool> StopAsync(string reason, string eventKind = LifecycleEventKind.Stopping, Func<bool>? onlyIf = null)
    {
        Task wait;
        CancellationTokenSource? cancelStart = null;
        var askAgain = false;
        lock (gate)
        {
            switch (State)
            {
                case ModelState.Sleeping when !settling.IsCompleted:
                    // Asked while it falls asleep: decided once that is over.
                    wait = settling;
                    askAgain = true;
                    break;
                case ModelState.Starting when starting is not null && onlyIf?.Invoke() != false:
                    stopReason = reason;
                    cancelStart = startCancellation;
                    wait = starting;
                    break;
                case ModelState.Ready or ModelState.Sleeping when server is { } victim && onlyIf?.Invoke() != false:
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

        if (askAgain)
        {
            await wait;
            return await StopAsync(reason, eventKind, onlyIf);
        }

        // Cancelled outside the lock: cancellation runs the start's failure path inline, which takes the lock.
        CancelQuietly(cancelStart);
        await IgnoringStartFailure(wait);
        return true;
    }

    /// <summary>
    /// Puts a ready server to sleep: from now on the model is not routable; the sleep call runs, and a server that
    /// does not fall asleep is stopped instead. Returns false when the model is not ready or <paramref name="onlyIf"/>
    /// (checked under the model's lock) said no. The fleet calls it, with room made among the sleeping models.
    /// </summary>
    internal async Task<bool> SleepAsync(string reason, Func<bool>? onlyIf = null)
    {
        Task wait;
        lock (gate)
        {
            if (State != ModelState.Ready || server is not { } sleeping || onlyIf?.Invoke() == false)
            {
                return false;
            }

            Enter(ModelState.Sleeping);
            settling = wait = Task.Run(() => sleeper.SleepAsync(sleeping, reason), CancellationToken.None);
        }

        await wait;
        return true;
    }

    /// <summary>Completes when a stop under way has finished.</summary>
    internal Task WhenStoppedAsync() => Locked(() => stopping);

    private Task<Uri> JoinAsync(TimeSpan patience, CancellationToken cancellationToken)
    {
        Task<Uri> start;
        lock (gate)
        {
            if (State == ModelState.Ready && server is { } ready)
            {
                return Task.FromResult(ready.Endpoint);
            }

            if (State == ModelState.Sleeping && !settling.IsCompleted)
            {
                // Falling asleep: woken once that is over.
                return AfterAsync(settling, patience, cancellationToken);
            }

            if (starting is { } cancelled && abandoned)
            {
                // Nobody waited for that load: this caller's starts afresh once it is cleaned up.
                return AfterAsync(cancelled, patience, cancellationToken);
            }

            if (starting is null)
            {
                var now = services.Time.GetUtcNow();
                if (State == ModelState.Failed && now < retryAt)
                {
                    throw new ModelUnavailableException(
                        $"Model '{Id}' failed to start and is backing off until {retryAt:O}: {LastError}", retryAt - now, "model_backing_off");
                }

                if (released)
                {
                    throw ModelUnavailableException.ShuttingDown();
                }

                BeginStart(null, wake: State == ModelState.Sleeping, begunByEnsure: true);
            }

            start = starting!;
            waiting++;
        }

        return WaitForStartAsync(start, patience, cancellationToken);
    }

    private async Task<Uri> AfterAsync(Task pending, TimeSpan patience, CancellationToken cancellationToken)
    {
        await IgnoringStartFailure(pending.WaitAsync(cancellationToken));
        return await JoinAsync(patience, cancellationToken);
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

    /// <summary>
    /// Under the lock: starts <paramref name="adopted"/> (found running at service start), wakes the sleeping server
    /// (<paramref name="wake"/>), or launches a new one. A wake-up is never abandoned: it takes well under a second, and
    /// cancelling it would cost the sleeping server.
    /// </summary>
    private void BeginStart(IModelServer? adopted, bool wake, bool begunByEnsure)
    {
        var cancellation = new CancellationTokenSource();
        startCancellation = cancellation;
        stopReason = null;
        waiting = 0;
        abandonable = begunByEnsure && !wake;
        abandoned = false;
        var previousStop = stopping;
        var asleep = wake ? server : null;
        Enter(ModelState.Starting);
        // Run the start outside this lock: a start that fails synchronously would otherwise clear `starting` under the
        // lock and then have its faulted task stored here anyway.
        var task = Task.Run(
            async () =>
            {
                using (cancellation)
                {
                    return await startup.RunAsync(adopted, asleep, previousStop, cancellation.Token);
                }
            },
            CancellationToken.None);
        _ = task.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        starting = task;
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
        StateChangedAt = services.Time.GetUtcNow();
        Version = fleet.NextVersion();
        journal.Transition(from, state);
    }
}
