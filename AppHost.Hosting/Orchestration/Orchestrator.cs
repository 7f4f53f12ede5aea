using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using LlmAspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmAspire.Hosting.Orchestration;

/// <summary>
/// Runs the application on this machine: a free 127.0.0.1 port for every endpoint, each resource started once what it
/// waits for is healthy, and at stop every resource stopped after the ones that depend on it, its private data
/// directory removed.
/// </summary>
internal sealed class Orchestrator(
    DistributedApplicationModel model,
    ResourceNotificationService notifications,
    ResourceLoggerService logs,
    ContainerRuntime containers,
    IServiceProvider services,
    ILoggerFactory loggerFactory) : IHostedService
{
    private readonly ConcurrentDictionary<IResource, Task> stops = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly ILogger logger = loggerFactory.CreateLogger<Orchestrator>();
    private List<ResourceSupervisor> supervisors = [];
    private DirectoryInfo? runDirectory;

    /// <summary>Private data of this run (server data directories), removed at stop.</summary>
    public string RunDirectory => runDirectory?.FullName ?? throw new InvalidOperationException("The application has not started.");

    public Task StartAsync(CancellationToken cancellationToken)
    {
        runDirectory = Directory.CreateTempSubdirectory("llmaspire-apphost-");
        if (Native.IsRoot)
        {
            // Servers that run as their own user (PostgreSQL) must be able to reach their directory inside.
            runDirectory.UnixFileMode |= UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        }

        foreach (var endpoint in model.Resources.SelectMany(r => r.Annotations.OfType<EndpointAnnotation>()))
        {
            endpoint.Allocated = new AllocatedEndpoint("127.0.0.1", FreePort());
        }

        var context = new SupervisorContext(notifications, logs, containers, services, runDirectory.FullName, logger);
        supervisors = [.. model.Resources.Where(r => r is not ParameterResource).Select(r => new ResourceSupervisor(r, context))];
        foreach (var supervisor in supervisors)
        {
            supervisor.Start(stopping.Token);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (runDirectory is null)
        {
            return;
        }

        await stopping.CancelAsync();
        await Task.WhenAll(supervisors.Select(StopInOrderAsync));
        try
        {
            runDirectory.Refresh();
            if (runDirectory.Exists)
            {
                runDirectory.Delete(recursive: true);
            }
        }
        catch (IOException exception)
        {
            logger.LogWarning(exception, "Could not remove {Directory}", runDirectory.FullName);
        }
    }

    public Task<bool> RestartAsync(string name) =>
        supervisors.FirstOrDefault(s => s.Resource.Name == name) is { } supervisor ? supervisor.RestartAsync() : Task.FromResult(false);

    /// <summary>Stops a resource once everything that depends on it has stopped (the gateway before its database).</summary>
    private Task StopInOrderAsync(ResourceSupervisor supervisor) => stops.GetOrAdd(supervisor.Resource, async _ =>
    {
        var dependents = DependencyGraph.DependentsOf(supervisor.Resource, model.Resources);
        await Task.WhenAll(supervisors.Where(s => dependents.Contains(s.Resource)).Select(StopInOrderAsync));
        await supervisor.StopAsync();
    });

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal sealed record SupervisorContext(
    ResourceNotificationService Notifications,
    ResourceLoggerService Logs,
    ContainerRuntime Containers,
    IServiceProvider Services,
    string RunDirectory,
    ILogger Logger);
