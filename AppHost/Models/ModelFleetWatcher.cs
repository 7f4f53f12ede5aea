using LlmAspire.ModelManager.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmAspire.AppHost.Models;

/// <summary>
/// Keeps every <see cref="ModelResource"/> in step with its ModelManager's change feed: the state and figures at each
/// change, the idle countdown every second, and "Unknown" while ModelManager cannot be reached (the watch resumes once
/// it is healthy again). Each state change is also a line in the model's own console log.
/// </summary>
internal sealed partial class ModelFleetWatcher(
    DistributedApplicationModel applicationModel,
    ResourceNotificationService notifications,
    ResourceLoggerService resourceLogs,
    IHttpClientFactory clients,
    TimeProvider timeProvider,
    ILogger<ModelFleetWatcher> logger) : BackgroundService
{
    private static readonly TimeSpan CountdownInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        applicationModel.Resources.OfType<ModelResource>()
            .GroupBy(model => model.ModelManager)
            .Select(models => WatchAsync(new ModelManagerApi(clients, models.Key), [.. models], stoppingToken)));

    private async Task WatchAsync(ModelManagerApi api, IReadOnlyList<ModelResource> models, CancellationToken stoppingToken)
    {
        var shown = new ShownFleet(models);
        using var countdown = new PeriodicTimer(CountdownInterval, timeProvider);
        var ticking = TickAsync(countdown, shown, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await notifications.WaitForResourceHealthyAsync(api.Name, stoppingToken);
                await foreach (var fleet in api.WatchAsync(stoppingToken))
                {
                    shown.Latest = fleet;
                    await PublishAsync(shown);
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested && exception is not OperationCanceledException)
            {
                LogFeedLost(logger, api.Name, exception.Message);
            }

            shown.Latest = null;
            await PublishAsync(shown);
            try
            {
                await Task.Delay(RetryDelay, timeProvider, stoppingToken);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await ticking;
    }

    private async Task TickAsync(PeriodicTimer countdown, ShownFleet shown, CancellationToken stoppingToken)
    {
        try
        {
            while (await countdown.WaitForNextTickAsync(stoppingToken))
            {
                if (shown.Latest?.Models.Any(model => model.IdleStopAt is not null) == true)
                {
                    await PublishAsync(shown);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PublishAsync(ShownFleet shown)
    {
        // The feed and the countdown both publish: one at a time, so a tick never writes an older picture over a newer one.
        await shown.Lock.WaitAsync();
        try
        {
            var fleet = shown.Latest;
            var now = timeProvider.GetUtcNow();
            foreach (var model in shown.Models)
            {
                var snapshot = fleet?.Models.FirstOrDefault(m => m.Id == model.ModelId);
                var state = fleet is null ? ModelStates.Unknown : snapshot is null ? ModelStates.NotInCatalog : ModelStates.FromLifecycle(snapshot.State);
                if (shown.States.GetValueOrDefault(model) != state)
                {
                    shown.States[model] = state;
                    LogTransition(resourceLogs.GetLogger(model), state.Text, snapshot?.Endpoint?.ToString() ?? "-", snapshot?.LastError ?? "-");
                }

                await notifications.PublishUpdateAsync(model, s => s with
                {
                    State = state,
                    Properties = ModelSnapshotProperties.Replace(
                        s.Properties, snapshot is null ? ModelSnapshotProperties.Initial(model) : ModelSnapshotProperties.Of(snapshot, now)),
                    Urls = snapshot?.Endpoint is { } endpoint && state == ModelStates.Ready ? [new UrlSnapshot("server", endpoint.ToString(), IsInternal: false)] : [],
                });
            }
        }
        finally
        {
            shown.Lock.Release();
        }
    }

    /// <summary>One ModelManager's models and what the dashboard was last told about them.</summary>
    private sealed class ShownFleet(IReadOnlyList<ModelResource> models)
    {
        public IReadOnlyList<ModelResource> Models { get; } = models;

        public SemaphoreSlim Lock { get; } = new(1, 1);

        public Dictionary<ModelResource, ResourceStateSnapshot> States { get; } = [];

        /// <summary>The last fleet received; null while the feed is down.</summary>
        public volatile FleetSnapshot? Latest;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lost the change feed of {ModelManager}: {Reason}; showing models as Unknown until it is back")]
    private static partial void LogFeedLost(ILogger logger, string modelManager, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{State} (server: {Endpoint}; last error: {LastError})")]
    private static partial void LogTransition(ILogger logger, string state, string endpoint, string lastError);
}
