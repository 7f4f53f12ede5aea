using System.Text.Json;
using LlmAspire.Dashboard.Configuration;
using LlmAspire.Dashboard.Sources;
using Microsoft.Extensions.Options;

namespace LlmAspire.Dashboard.Gateway;

/// <summary>The gateway's live figures, <c>GET /admin/stats</c> with its admin key, found as service <c>gateway</c>.</summary>
public sealed class GatewayStatsClient(HttpClient http, IConfiguration configuration, IOptions<DashboardOptions> options)
{
    private static readonly JsonSerializerOptions SnakeCase = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public SourceStatus InitialStatus =>
        !ServiceReference.Gateway.IsConfigured(configuration) ? SourceStatus.NotConfigured(ServiceReference.Gateway.NotConfiguredMessage)
        : string.IsNullOrEmpty(options.Value.GatewayAdminKey) ? SourceStatus.NotConfigured($"The gateway's admin key is not configured: set {DashboardOptions.SectionName}:GatewayAdminKey.")
        : SourceStatus.Connecting;

    public async Task<GatewayFigures> GetAsync(CancellationToken cancellationToken)
    {
        using var deadline = SourceCalls.Deadline(options, cancellationToken);
        return await SourceCalls.SendAsync<GatewayFigures>(http, new HttpRequestMessage(HttpMethod.Get, "admin/stats"), SnakeCase, deadline.Token);
    }
}

/// <summary>The gateway replica's figures over its last minute (docs/admin-api.md, <c>/admin/stats</c>).</summary>
public sealed record GatewayFigures(
    DateTimeOffset StartedAt,
    int WindowSeconds,
    double RequestsPerSecond,
    double TokensPerSecond,
    double? CacheHitRate,
    GatewayCounts Window,
    GatewayCounts Total,
    IReadOnlyDictionary<string, GatewayModelAdmission>? Models);

/// <summary>One model's admission queue at the gateway: requests holding a slot and requests waiting for one.</summary>
public sealed record GatewayModelAdmission(long InFlight, long Queued);

public sealed record GatewayCounts(long Requests, long Tokens, long CacheHits, long TooManyRequests, long ServerErrors);
