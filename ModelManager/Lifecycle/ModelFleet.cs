using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Telemetry;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Every catalog model and the GPU budget they share: at most <see cref="ModelManagerOptions.MaxLoadedModels"/> are
/// starting, ready or stopping at once; loading one more first stops the least recently used model that has no
/// request in flight. Also the source of the change feed: a version bumped on every state change of any model.
/// </summary>
internal sealed class ModelFleet
{
    private readonly ActivityTracker activity;
    private readonly TimeProvider timeProvider;
    private readonly TimeSpan evictionGrace;
    private readonly int maxLoaded;
    private readonly SemaphoreSlim capacity = new(1, 1);
    private readonly ChangeSignal changed = new();
    private long version;

    public ModelFleet(
        IOptions<ModelManagerOptions> options, IEnumerable<IModelServerRuntime> runtimes, ReadinessProbe probe, ActivityTracker activity,
        TimeProvider timeProvider, ILifecycleEventSink events, ModelManagerMetrics metrics, ILogger<ManagedModel> logger)
    {
        this.activity = activity;
        this.timeProvider = timeProvider;
        var settings = options.Value;
        maxLoaded = settings.MaxLoadedModels;
        evictionGrace = settings.EvictionGracePeriod;
        var byKind = runtimes.GroupBy(runtime => runtime.Kind).ToDictionary(group => group.Key, group => group.First());
        Models = settings.Models.ToDictionary(
            entry => entry.Key,
            entry => new ManagedModel(
                entry.Key, entry.Value, this,
                byKind.TryGetValue(entry.Value.Runtime, out var runtime)
                    ? runtime
                    : throw new InvalidOperationException($"No {entry.Value.Runtime} runtime is registered for model '{entry.Key}'."),
                probe, settings, timeProvider, events, metrics, logger),
            StringComparer.Ordinal);
    }

    public IReadOnlyDictionary<string, ManagedModel> Models { get; }

    public long Version => Interlocked.Read(ref version);

    /// <summary>Completes at the next state change of any model.</summary>
    public Task Changed => changed.Next;

    /// <summary>Models holding (or about to hold, or still releasing) GPU memory.</summary>
    public int LoadedCount => Models.Values.Count(IsLoaded);

    internal long NextVersion()
    {
        var next = Interlocked.Increment(ref version);
        changed.Raise();
        return next;
    }

    /// <summary>
    /// Stops least recently used models without requests in flight until <paramref name="starting"/> fits. When every
    /// loaded model is busy, the start is refused (503 with Retry-After): the gateway's queue is where requests wait.
    /// </summary>
    internal async Task MakeRoomForAsync(ManagedModel starting, CancellationToken cancellationToken)
    {
        await capacity.WaitAsync(cancellationToken);
        try
        {
            while (Models.Values.Count(model => model != starting && IsLoaded(model)) >= maxLoaded)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var victim = Models.Values
                    .Where(model => model != starting && model.State == ModelState.Ready && IsEvictable(model))
                    .MinBy(LastUsed);
                if (victim is not null)
                {
                    await victim.StopAsync($"evicted (least recently used) to load {starting.Id}", LifecycleEventKind.Evicted, () => IsEvictable(victim));
                    continue;
                }

                if (Models.Values.FirstOrDefault(model => model != starting && model.State == ModelState.Stopping) is { } releasing)
                {
                    await releasing.WhenStoppedAsync().WaitAsync(cancellationToken);
                    continue;
                }

                throw new ModelUnavailableException(
                    $"All {maxLoaded} model slots (ModelManager:MaxLoadedModels) are taken by models that are loading, serving requests or were used in the last {evictionGrace.TotalSeconds:0.#} s; '{starting.Id}' cannot be loaded now.",
                    evictionGrace > TimeSpan.FromSeconds(5) ? evictionGrace : TimeSpan.FromSeconds(5),
                    "capacity_exhausted");
            }
        }
        finally
        {
            capacity.Release();
        }
    }

    /// <summary>Nothing in flight or queued, and not used within the eviction grace period.</summary>
    private bool IsEvictable(ManagedModel model) =>
        activity.InFlight(model.Id) == 0 && activity.Queued(model.Id) == 0 && timeProvider.GetUtcNow() - LastUsed(model) >= evictionGrace;

    private DateTimeOffset LastUsed(ManagedModel model) =>
        new[] { activity.LastActivity(model.Id), model.LoadedSince }.Max() ?? DateTimeOffset.MinValue;

    private static bool IsLoaded(ManagedModel model) => model.State is ModelState.Starting or ModelState.Ready or ModelState.Stopping;
}
