using LlmAspire.Gateway.Api.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

/// <summary>
/// Keeps the routing table's managed part in step with ModelManager through its long-poll change feed. While
/// ModelManager cannot be reached the last known catalog stays in place (warm models keep serving) and the feed
/// retries with a growing delay.
/// </summary>
internal sealed partial class ModelManagerFeed(
    ModelManagerClient modelManager, ModelRouteTable routes, TimeProvider timeProvider, ILogger<ModelManagerFeed> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(10);

    /// <summary>Why the last call to the change feed failed, while it keeps failing; null while it answers.</summary>
    public string? Unreachable { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long? version = null;
        var reconnected = true;
        var retryDelay = FirstRetryDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var fleet = await modelManager.WaitForChangeAsync(version, stoppingToken);
                if (fleet.Version != version || reconnected)
                {
                    routes.ApplyCatalog(fleet.Version, fleet.Models.Select(model => model.ToRoutedModel(routes)), replace: reconnected);
                    version = fleet.Version;
                    reconnected = false;
                }

                if (Unreachable is not null)
                {
                    LogReconnected(logger, fleet.Version);
                    Unreachable = null;
                }

                retryDelay = FirstRetryDelay;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                if (Unreachable is null)
                {
                    LogUnreachable(logger, exception.Message);
                }

                Unreachable = exception.Message;

                // ModelManager may have restarted and counts versions anew: its next answer replaces the catalog.
                reconnected = true;
                await Task.Delay(retryDelay, timeProvider, stoppingToken);
                retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    /// <summary>
    /// The gateway's readiness does not hang on ModelManager (warm and fixed models keep serving), so an unreachable
    /// ModelManager makes <c>/health</c> say Degraded (still 200) with the reason, for dashboards and operators.
    /// </summary>
    internal sealed class HealthCheck(ModelManagerFeed feed) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(feed.Unreachable is { } reason
                ? HealthCheckResult.Degraded($"ModelManager is unreachable ({reason}): models that are not loaded cannot be started.")
                : HealthCheckResult.Healthy());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "ModelManager's change feed is unreachable ({Reason}); warm models keep their last known routes, cold ones cannot be started until it is back")]
    private static partial void LogUnreachable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "ModelManager's change feed is back at version {Version}")]
    private static partial void LogReconnected(ILogger logger, long version);
}
