using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Runtimes;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Every catalog model and the GPU budget they share: at most <see cref="ModelManagerOptions.MaxLoadedModels"/> are
/// starting or ready at once; loading one more first stops the least recently used idle one.
/// </summary>
public sealed class ModelFleet
{
    private readonly ActivityTracker activity;
    private readonly int maxLoaded;
    private readonly SemaphoreSlim capacity = new(1, 1);
    private long version;
    private TaskCompletionSource changed = NewSignal();

    public ModelFleet(
        IOptions<ModelManagerOptions> options, IModelServerRuntime runtime, ReadinessProbe probe, ActivityTracker activity,
        TimeProvider timeProvider, ILogger<ManagedModel> logger)
    {
        this.activity = activity;
        maxLoaded = options.Value.MaxLoadedModels;
        Models = options.Value.Models.ToDictionary(
            entry => entry.Key,
            entry => new ManagedModel(entry.Key, entry.Value, runtime, probe, this, options.Value, timeProvider, logger),
            StringComparer.Ordinal);
    }

    public IReadOnlyDictionary<string, ManagedModel> Models { get; }

    public long Version => Interlocked.Read(ref version);

    /// <summary>Completes at the next state change of any model.</summary>
    public Task Changed => Volatile.Read(ref changed).Task;

    internal long NextVersion()
    {
        var next = Interlocked.Increment(ref version);
        Interlocked.Exchange(ref changed, NewSignal()).TrySetResult();
        return next;
    }

    /// <summary>Stops least recently used idle models until <paramref name="starting"/> fits; fails when none is idle.</summary>
    internal async Task MakeRoomForAsync(ManagedModel starting)
    {
        await capacity.WaitAsync();
        try
        {
            while (Models.Values.Count(model => model != starting && model.State is ModelState.Starting or ModelState.Ready or ModelState.Stopping) >= maxLoaded)
            {
                var victim = Models.Values
                    .Where(model => model != starting && model.State == ModelState.Ready && activity.InFlight(model.Id) == 0)
                    .MinBy(model => activity.LastActivity(model.Id));
                if (victim is null)
                {
                    throw new ModelUnavailableException(
                        $"All {maxLoaded} model slots are busy serving requests; '{starting.Id}' cannot be loaded now.", TimeSpan.FromSeconds(5));
                }

                await victim.StopAsync($"evicted (least recently used) to load {starting.Id}");
            }
        }
        finally
        {
            capacity.Release();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
