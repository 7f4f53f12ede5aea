using LlmAspire.Dashboard.Configuration;
using LlmAspire.Dashboard.Sources;
using Microsoft.Extensions.Options;

namespace LlmAspire.Dashboard.Models;

/// <summary>
/// ModelManager's API, found as service <c>modelmanager</c>. Its change feed stays open and an ensure waits for a
/// whole model load, so this client has no total timeout (see <see cref="DashboardExtensions"/>).
/// </summary>
public sealed class ModelManagerClient(HttpClient http, IConfiguration configuration, IOptions<DashboardOptions> options)
{
    public SourceStatus InitialStatus =>
        !ServiceReference.ModelManager.IsConfigured(configuration) ? SourceStatus.NotConfigured(ServiceReference.ModelManager.NotConfiguredMessage)
        : string.IsNullOrEmpty(options.Value.ModelManagerToken) ? SourceStatus.NotConfigured($"ModelManager's token is not configured: set {DashboardOptions.SectionName}:ModelManagerToken.")
        : SourceStatus.Connecting;

    /// <summary>The whole fleet at once, then again after every change (<c>GET /api/changes/stream</c>).</summary>
    public IAsyncEnumerable<FleetSnapshot> WatchAsync(CancellationToken cancellationToken) =>
        SourceCalls.StreamAsync<FleetSnapshot>(http, "api/changes/stream", "models", SourceCalls.CamelCase, cancellationToken);

    /// <summary>Starts the model if needed and waits until it is ready (a model load can take minutes).</summary>
    public Task<ModelSnapshot> EnsureAsync(string id, CancellationToken cancellationToken) =>
        SourceCalls.SendAsync<ModelSnapshot>(http, new HttpRequestMessage(HttpMethod.Post, $"api/models/{Uri.EscapeDataString(id)}/ensure"), SourceCalls.CamelCase, cancellationToken);

    /// <summary>Stops the model and waits for the stop (its server's stop timeout at most).</summary>
    public Task<ModelSnapshot> StopAsync(string id, CancellationToken cancellationToken) =>
        SourceCalls.SendAsync<ModelSnapshot>(http, new HttpRequestMessage(HttpMethod.Post, $"api/models/{Uri.EscapeDataString(id)}/stop"), SourceCalls.CamelCase, cancellationToken);
}
