using LlmAspire.ModelManager.Catalog;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// At start, adopts the model servers a previous ModelManager left running (containers with its labels, processes in
/// its state directory). At shutdown, lets them run for the next one to adopt, or stops them when
/// <see cref="ModelManagerOptions.StopModelsOnShutdown"/> is set.
/// </summary>
internal sealed class FleetLifecycle(ModelFleet fleet, IOptions<ModelManagerOptions> options) : IHostedService
{
    private static readonly TimeSpan AdoptionTimeout = TimeSpan.FromSeconds(30);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(AdoptionTimeout);
        try
        {
            // Only the finding waits here; an adopted server's readiness check runs on, like any start.
            await Task.WhenAll(fleet.Models.Values.Select(model => model.AdoptAsync(timeout.Token)));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // An engine that does not answer must not keep the API down; starts look for running servers again.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(fleet.Models.Values.Select(model => model.ReleaseAsync(options.Value.StopModelsOnShutdown)));
}
