using LlmAspire.Hosting.ApplicationModel;
using LlmAspire.Hosting.Orchestration;
using LlmAspire.Hosting.Publishing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmAspire.Hosting;

/// <summary>
/// A built application: runs its resources locally (<see cref="RunAsync"/>), or writes them out for deployment when
/// started with <c>--publisher manifest|compose --output-path &lt;file&gt;</c>.
/// </summary>
public sealed class DistributedApplication : IAsyncDisposable
{
    private readonly IHost host;
    private readonly DistributedApplicationOperation operation;

    internal DistributedApplication(IHost host, DistributedApplicationOperation operation)
    {
        this.host = host;
        this.operation = operation;
    }

    public IServiceProvider Services => host.Services;

    public ResourceNotificationService ResourceNotifications => host.Services.GetRequiredService<ResourceNotificationService>();

    public ResourceLoggerService ResourceLogs => host.Services.GetRequiredService<ResourceLoggerService>();

    public static IDistributedApplicationBuilder CreateBuilder(string[] args) =>
        new DistributedApplicationBuilder(TestingHook.Options ?? new DistributedApplicationOptions { Args = args });

    public void Run() => RunAsync().GetAwaiter().GetResult();

    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (operation == DistributedApplicationOperation.Publish)
        {
            await host.Services.GetRequiredService<Publisher>().PublishAsync(cancellationToken);
            return;
        }

        await host.RunAsync(cancellationToken);
    }

    /// <summary>Starts every resource (each once what it waits for is healthy) and returns without waiting for them.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => host.StartAsync(cancellationToken);

    /// <summary>Stops every resource it started, dependents before what they depend on.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => host.StopAsync(cancellationToken);

    /// <summary>A client for a resource's endpoint (<c>http</c> by default).</summary>
    public HttpClient CreateHttpClient(string resourceName, string endpointName = "http") =>
        new() { BaseAddress = new Uri(GetEndpoint(resourceName, endpointName).Url) };

    public EndpointReference GetEndpoint(string resourceName, string endpointName = "http") =>
        host.Services.GetRequiredService<DistributedApplicationModel>().Find(resourceName) is IResourceWithEndpoints resource
            ? resource.GetEndpoint(endpointName)
            : throw new InvalidOperationException($"Resource '{resourceName}' has no endpoints.");

    public async Task<string?> GetConnectionStringAsync(string resourceName, CancellationToken cancellationToken = default) =>
        host.Services.GetRequiredService<DistributedApplicationModel>().Find(resourceName) is IResourceWithConnectionString resource
            ? await resource.ConnectionStringExpression.GetValueAsync(cancellationToken)
            : throw new InvalidOperationException($"Resource '{resourceName}' has no connection string.");

    public async ValueTask DisposeAsync()
    {
        if (operation == DistributedApplicationOperation.Run)
        {
            await host.StopAsync(CancellationToken.None);
        }

        if (host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            host.Dispose();
        }
    }
}
