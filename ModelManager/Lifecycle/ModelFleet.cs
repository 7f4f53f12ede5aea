using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Telemetry;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Every catalog model and the GPU budget they share: at most <see cref="ModelManagerOptions.MaxLoadedModels"/> are
/// starting (or waking), ready or stopping at once; loading one more first frees the least recently used model that has
/// no request in flight, by putting it to sleep when it sleeps (vLLM frees its weights and KV cache from the GPU at
/// either level, so a sleeping model takes no room) and by stopping it otherwise. At most
/// <see cref="ModelManagerOptions.MaxSleepingModels"/> sleep at once (level 1 holds the weights in CPU memory, and a
/// sleeping process keeps its CUDA context): one more first stops the least recently used sleeping model, so a sleeping
/// model is stopped before an idle awake one, which is put to sleep in its place. Also the source of the change feed:
/// a version bumped on every state change of any model.
/// </summary>
internal sealed class ModelFleet
{
    private readonly ActivityTracker activity;
    private readonly TimeProvider timeProvider;
    private readonly TimeSpan evictionGrace;
    private readonly int maxLoaded;
    private readonly int maxSleeping;
    private readonly SemaphoreSlim capacity = new(1, 1);
    private readonly ChangeSignal changed = new();
    private long version;

    public ModelFleet(
        IOptions<ModelManagerOptions> options, IEnumerable<IModelServerRuntime> runtimes, ReadinessProbe probe, SleepModeClient sleepMode,
        ActivityTracker activity, TimeProvider timeProvider, ILifecycleEventSink events, ModelManagerMetrics metrics, ILogger<ManagedModel> logger)
    {
        this.activity = activity;
        this.timeProvider = timeProvider;
        var settings = options.Value;
        maxLoaded = settings.MaxLoadedModels;
        maxSleeping = settings.MaxSleepingModels;
        evictionGrace = settings.EvictionGracePeriod;
        var services = new LifecycleServices(settings, probe, sleepMode, activity, timeProvider, events, metrics, logger);
        var byKind = runtimes.GroupBy(runtime => runtime.Kind).ToDictionary(group => group.Key, group => group.First());
        Models = settings.Models.ToDictionary(
            entry => entry.Key,
            entry => new ManagedModel(
                entry.Key, entry.Value, this,
                byKind.TryGetValue(entry.Value.Runtime, out var runtime)
                    ? runtime
                    : throw new InvalidOperationException($"No {entry.Value.Runtime} runtime is registered for model '{entry.Key}'."),
                services),
            StringComparer.Ordinal);
    }

    public IReadOnlyDictionary<string, ManagedModel> Models { get; }

    public long Version => Interlocked.Read(ref version);

    /// <summary>Completes at the next state change of any model.</summary>
    public Task Changed => changed.Next;

    /// <summary>Models holding (or about to hold, or still releasing) GPU memory.</summary>
    public int LoadedCount => Models.Values.Count(IsLoaded);

    /// <summary>Models asleep: their servers run with their GPU memory freed.</summary>
    public int SleepingCount => Models.Values.Count(model => model.State == ModelState.Sleeping);

    internal long NextVersion()
    {
        var next = Interlocked.Increment(ref version);
        changed.Raise();
        return next;
    }

    /// <summary>
    /// Frees least recently used models without requests in flight (asleep when they sleep, stopped otherwise) until
    /// <paramref name="starting"/> fits. When every loaded model is busy, the start is refused (503 with Retry-After):
    /// the gateway's queue is where requests wait.
    /// </summary>
    internal async Task MakeRoomForAsync(ManagedModel starting, CancellationToken cancellationToken)
    {
        await capacity.WaitAsync(cancellationToken);
        try
        {
            while (Models.Values.Count(model => model != starting && IsLoaded(model)) >= maxLoaded)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var victim = LeastRecentlyUsed(model => model != starting && model.State == ModelState.Ready && IsEvictable(model));
                if (victim is not null)
                {
                    var reason = $"evicted (least recently used) to load {starting.Id}";
                    if (!victim.Sleeps || !await SleepWithRoomAsync(victim, reason, () => IsEvictable(victim)))
                    {
                        await victim.StopAsync(reason, LifecycleEventKind.Evicted, () => IsEvictable(victim));
                    }

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

    /// <summary>The idle reaper's: puts an idle model to sleep, with room made among the sleeping models; false when there is none or <paramref name="onlyIf"/> says no.</summary>
    internal async Task<bool> SleepAsync(ManagedModel model, string reason, Func<bool> onlyIf)
    {
        await capacity.WaitAsync();
        try
        {
            return await SleepWithRoomAsync(model, reason, onlyIf);
        }
        finally
        {
            capacity.Release();
        }
    }

    /// <summary>
    /// Under the capacity lock: stops least recently used sleeping models until one more may sleep, then puts
    /// <paramref name="model"/> to sleep. False when no sleeping model can be stopped (all used within the eviction
    /// grace period) or the model did not enter Sleeping.
    /// </summary>
    private async Task<bool> SleepWithRoomAsync(ManagedModel model, string reason, Func<bool> onlyIf)
    {
        while (Models.Values.Count(other => other != model && other.State == ModelState.Sleeping) >= maxSleeping)
        {
            if (LeastRecentlyUsed(other => other != model && other.State == ModelState.Sleeping && IsEvictable(other)) is not { } oldest)
            {
                return false;
            }

            await oldest.StopAsync($"evicted (least recently used sleeping model) so that {model.Id} can sleep", LifecycleEventKind.Evicted, () => IsEvictable(oldest));
        }

        return await model.SleepAsync(reason, onlyIf);
    }

    private ManagedModel? LeastRecentlyUsed(Func<ManagedModel, bool> candidate) => Models.Values.Where(candidate).MinBy(LastUsed);

    /// <summary>Nothing in flight or queued, and not used within the eviction grace period.</summary>
    private bool IsEvictable(ManagedModel model) =>
        activity.InFlight(model.Id) == 0 && activity.Queued(model.Id) == 0 && timeProvider.GetUtcNow() - LastUsed(model) >= evictionGrace;

    private DateTimeOffset LastUsed(ManagedModel model) =>
        new[] { activity.LastActivity(model.Id), model.LoadedSince }.Max() ?? DateTimeOffset.MinValue;

    private static bool IsLoaded(ManagedModel model) => model.State is ModelState.Starting or ModelState.Ready or ModelState.Stopping;
}
