using System.ComponentModel.DataAnnotations;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

/// <summary>
/// How the gateway works with ModelManager, keys under <c>Gateway:ModelManager</c>. ModelManager itself is found by
/// service discovery as <c>modelmanager</c> (<c>services:modelmanager:http:0</c>); without that entry every model is
/// served at a fixed endpoint and this section is not used.
/// </summary>
internal sealed class ModelManagerClientOptions
{
    public const string SectionName = "Gateway:ModelManager";

    /// <summary>ModelManager's <c>ModelManager:ApiToken</c>; required when ModelManager is configured.</summary>
    public string? ApiToken { get; set; }

    /// <summary>Longest wait of a request for a model that is not loaded (vLLM may load weights for minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan EnsureTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// While a model loads, a streaming client gets an SSE comment line this often, so that proxies and load balancers
    /// in between do not close the silent connection.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan LoadingKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// In-flight and queued counts and idle times are reported this often (and at once when a model's in-flight or
    /// queued count goes from 0 to more or back). Keep it well below ModelManager's <c>ReplicaGracePeriod</c> (30 s).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ActivityReportInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one long poll of ModelManager's change feed waits for a change before asking again.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:02:00")]
    public TimeSpan ChangePollTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
