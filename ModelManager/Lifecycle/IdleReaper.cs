using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Puts to sleep and stops models that nobody uses: no request in flight or queued on any live gateway replica, and the
/// last one ended longer ago than the model's <c>SleepAfter</c> (ready models that sleep) or <c>StopAfter</c> (ready
/// or sleeping models). A model with requests in flight is never touched, however long they run. Each pass also
/// cancels the loads nobody waits for any more, for models whose <c>OnAbandonedLoad</c> says so.
/// </summary>
internal sealed partial class IdleReaper(
    ModelFleet fleet, ActivityTracker activity, IOptions<ModelManagerOptions> options, TimeProvider timeProvider, ILogger<IdleReaper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.IdleCheckInterval, timeProvider);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await ReapAsync();
            }
            catch (Exception exception)
            {
                // One failed pass must not end reaping for good (nor, through the host, stop the service and its models).
                LogPassFailed(logger, exception);
            }
        }
    }

    /// <summary>One pass over the models (each rechecked under the model's lock just before it is put to sleep or stopped).</summary>
    public async Task ReapAsync()
    {
        var work = new List<Task>();
        foreach (var model in fleet.Models.Values)
        {
            var stopAfter = model.Options.EffectiveStopAfter;
            if (model.State is ModelState.Ready or ModelState.Sleeping && IsIdleFor(model, stopAfter))
            {
                work.Add(model.StopAsync($"idle for {stopAfter}", LifecycleEventKind.Stopping, () => IsIdleFor(model, stopAfter)));
            }
            else if (model.State == ModelState.Ready && model.Options.SleepAfter is { } sleepAfter && IsIdleFor(model, sleepAfter))
            {
                work.Add(fleet.SleepAsync(model, $"idle for {sleepAfter}", () => IsIdleFor(model, sleepAfter)));
            }
            else if (model.State == ModelState.Starting)
            {
                model.CancelIfAbandoned();
            }
        }

        await Task.WhenAll(work);
    }

    private bool IsIdleFor(ManagedModel model, TimeSpan idle) => activity.IsIdle(model.Id, idle, model.LoadedSince);

    [LoggerMessage(Level = LogLevel.Error, Message = "Looking for idle models failed; trying again at the next check")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
