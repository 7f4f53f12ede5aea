using System.ComponentModel.DataAnnotations;

namespace LlmAspire.Dashboard.Configuration;

/// <summary>
/// The <c>Dashboard</c> configuration section. Every source is optional: a page whose source is not configured says so
/// instead of the dashboard refusing to start, so it is useful with whatever part of the platform is running.
/// </summary>
public sealed class DashboardOptions
{
    public const string SectionName = "Dashboard";

    /// <summary>The AppHost's resource service (<c>/api/resources</c>); without it the resource and log pages say so.</summary>
    public Uri? ResourceServiceUrl { get; set; }

    /// <summary>Bearer token for ModelManager's API (its <c>ModelManager:ApiToken</c>), found as service <c>modelmanager</c>.</summary>
    public string? ModelManagerToken { get; set; }

    /// <summary>The gateway's admin key (its <c>Gateway:Auth:AdminKey</c>) for <c>/admin/stats</c>, found as service <c>gateway</c>.</summary>
    public string? GatewayAdminKey { get; set; }

    /// <summary>How often the resource list and the gateway figures are fetched again (neither source has a change feed).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest wait for a short call (a list, a restart, a stop, the figures); streams and model starts have none.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Lines of console output kept per open log view; older ones scroll away.</summary>
    [Range(100, 1_000_000)]
    public int MaxLogLines { get; set; } = 10_000;
}
