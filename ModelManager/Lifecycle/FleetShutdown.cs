namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>Stops every model server this process started when it shuts down, so none is left holding a GPU.</summary>
public sealed class FleetShutdown(ModelFleet fleet) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(fleet.Models.Values.Select(model => model.StopAsync("ModelManager is shutting down")));
}
