using LlmAspire.Dashboard.Sources;

namespace LlmAspire.Dashboard.Models;

/// <summary>
/// One change-feed connection to ModelManager for the whole dashboard, however many pages watch: keeps the latest
/// fleet and tells subscribers when it or the connection's status changes. Reconnects after a failure.
/// </summary>
public sealed class ModelFleetFeed(ModelManagerClient client, TimeProvider timeProvider, ILogger<ModelFleetFeed> logger) : BackgroundService
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    public event Action? Changed;

    public FleetSnapshot? Fleet { get; private set; }

    public SourceStatus Status { get; private set; } = client.InitialStatus;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Status.State == SourceState.NotConfigured)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var fleet in client.WatchAsync(stoppingToken))
                {
                    Fleet = fleet;
                    Publish(SourceStatus.Available);
                }

                Publish(SourceStatus.Unreachable(new SourceException("ModelManager closed its change feed.")));
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogDebug(exception, "ModelManager's change feed failed; reconnecting");
                Publish(SourceStatus.Unreachable(exception));
            }

            try
            {
                await Task.Delay(ReconnectDelay, timeProvider, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Publish(SourceStatus status)
    {
        Status = status;
        Changed?.Invoke();
    }
}
