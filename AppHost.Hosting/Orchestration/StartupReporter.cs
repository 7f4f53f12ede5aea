using System.Diagnostics;
using LlmAspire.Hosting.ResourceService;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmAspire.Hosting.Orchestration;

/// <summary>Says where the resource service is, and how long it took until every resource was healthy.</summary>
internal sealed class StartupReporter(
    ResourceNotificationService notifications,
    ResourceServiceHost resourceService,
    ILogger<StartupReporter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var stopwatch = Stopwatch.StartNew();
        logger.LogInformation("Resource service: {Url}/api/resources", resourceService.Url);
        var resources = notifications.Snapshots.Select(s => s.Name).ToList();
        try
        {
            await Task.WhenAll(resources.Select(name => notifications.WaitForResourceHealthyAsync(name, stoppingToken)));
            logger.LogInformation("All {Count} resources are healthy after {Seconds:F1} s", resources.Count, stopwatch.Elapsed.TotalSeconds);
        }
        catch (InvalidOperationException exception)
        {
            logger.LogError("{Message}", exception.Message);
        }
        catch (OperationCanceledException)
        {
            // Stopped before everything was up.
        }
    }
}
