using LlmAspire.Dashboard.Configuration;
using LlmAspire.Dashboard.Sources;
using Microsoft.Extensions.Options;

namespace LlmAspire.Dashboard.Resources;

/// <summary>The AppHost's resource service at <c>Dashboard:ResourceServiceUrl</c>: resources, their console output, restarts.</summary>
public sealed class ResourceServiceClient(HttpClient http, IOptions<DashboardOptions> options)
{
    public SourceStatus InitialStatus => http.BaseAddress is null
        ? SourceStatus.NotConfigured($"The resource service is not configured: set {DashboardOptions.SectionName}:ResourceServiceUrl (the AppHost does this).")
        : SourceStatus.Connecting;

    public async Task<IReadOnlyList<ResourceSnapshot>> ListAsync(CancellationToken cancellationToken)
    {
        using var deadline = SourceCalls.Deadline(options, cancellationToken);
        return await SourceCalls.SendAsync<List<ResourceSnapshot>>(http, new HttpRequestMessage(HttpMethod.Get, "api/resources"), SourceCalls.CamelCase, deadline.Token);
    }

    public async Task RestartAsync(string name, CancellationToken cancellationToken)
    {
        using var deadline = SourceCalls.Deadline(options, cancellationToken);
        using var response = await http.PostAsync($"api/resources/{Uri.EscapeDataString(name)}/restart", content: null, deadline.Token);
        await SourceCalls.EnsureSuccessAsync(response, deadline.Token);
    }

    /// <summary>The resource's output so far, then each new line as it is written, until the stream or <paramref name="cancellationToken"/> ends.</summary>
    public IAsyncEnumerable<LogLine> FollowLogsAsync(string name, CancellationToken cancellationToken) =>
        SourceCalls.StreamAsync<LogLine>(http, $"api/resources/{Uri.EscapeDataString(name)}/logs", eventType: null, SourceCalls.CamelCase, cancellationToken);
}
