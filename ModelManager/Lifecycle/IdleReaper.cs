using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Stops ready models that nobody uses: no request in flight on any live gateway replica, and the last one ended
/// longer ago than the model's idle timeout. A model with requests in flight is never stopped, however long they run.
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

    /// <summary>One pass: stops every idle ready model (rechecked under the model's lock just before stopping it).</summary>
    public async Task ReapAsync()
    {
        var stops = new List<Task>();
        foreach (var model in fleet.Models.Values)
        {
            if (model.State == ModelState.Ready && IsIdle(model))
            {
                stops.Add(model.StopAsync($"idle for {model.Options.IdleTimeout}", LifecycleEventKind.Stopping, () => IsIdle(model)));
            }
        }

        await Task.WhenAll(stops);
    }

    private bool IsIdle(ManagedModel model) => activity.IsIdle(model.Id, model.Options.IdleTimeout, model.LoadedSince);

    [LoggerMessage(Level = LogLevel.Error, Message = "Looking for idle models failed; trying again at the next check")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
