using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.ModelLifecycle;

/// <summary>
/// Keeps the routing table's managed part in step with ModelManager through its long-poll change feed. While
/// ModelManager cannot be reached the last known catalog stays in place (warm models keep serving) and the feed
/// retries with a growing delay.
/// </summary>
internal sealed partial class ModelManagerFeed(
    ModelManagerClient modelManager, Routing.ModelRouteTable routes, TimeProvider timeProvider, ILogger<ModelManagerFeed> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long? version = null;
        var retryDelay = FirstRetryDelay;
        var reachable = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var fleet = await modelManager.WaitForChangeAsync(version, stoppingToken);
                if (fleet.Version != version)
                {
                    routes.ApplyCatalog(fleet.Models);
                    version = fleet.Version;
                }

                if (!reachable)
                {
                    LogReconnected(logger, fleet.Version);
                    reachable = true;
                }

                retryDelay = FirstRetryDelay;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                if (reachable)
                {
                    LogUnreachable(logger, exception.Message);
                    reachable = false;
                }

                // ModelManager may have restarted with a new version counter: the next answer replaces the catalog.
                version = null;
                await Task.Delay(retryDelay, timeProvider, stoppingToken);
                retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "ModelManager's change feed is unreachable ({Reason}); warm models keep their last known routes, cold ones cannot be started until it is back")]
    private static partial void LogUnreachable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "ModelManager's change feed is back at version {Version}")]
    private static partial void LogReconnected(ILogger logger, long version);
}
