using System.ComponentModel.DataAnnotations;

namespace LlmAspire.Gateway.Api.Configuration;

/// <summary>The <c>Gateway</c> configuration section.</summary>
internal sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Largest accepted request body; larger ones get 413. Default 16 MiB (long contexts, inline images).</summary>
    [Range(1_024, 268_435_456)]
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// After the stopping signal (SIGTERM), how long requests under way may still run. Past it, streams end with an
    /// error event and <c>[DONE]</c> and waiting requests get 503; the process exits once their ledger rows are written
    /// or spooled (the host's shutdown timeout is this plus 15 s). Keep it below the orchestrator's own grace period
    /// (Kubernetes' terminationGracePeriodSeconds, 30 s by default) minus those 15 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Requests the gateway sends through its own forwarding path, to a stand-in model server on loopback, before it
    /// starts listening, so that a new replica serves its first seconds with compiled code rather than at a fraction of
    /// its speed while the runtime tiers it up. Nothing of it reaches a model server, the ledger or the request
    /// metrics. 0 turns it off.
    /// </summary>
    [Range(0, 100_000)]
    public int WarmupRequests { get; set; } = 5_000;

    /// <summary>Forwarding connection pool settings shared by every upstream.</summary>
    public UpstreamPoolOptions Upstream { get; set; } = new();

    /// <summary>
    /// Models keyed by the model id clients send: served at a fixed <c>Endpoint</c>, or, without one, the gateway's
    /// settings for a model of ModelManager's catalog.
    /// </summary>
    public Dictionary<string, ModelOptions> Models { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One model: where it is served and how much traffic it takes. Keys under <c>Gateway:Models:&lt;id&gt;</c>.</summary>
internal sealed class ModelOptions
{
    /// <summary>
    /// Root URL of the OpenAI-compatible server (e.g. <c>http://127.0.0.1:8001</c>); request paths are appended. Left
    /// out for a model that ModelManager starts and stops.
    /// </summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Bearer token sent to the upstream (for servers started with <c>--api-key</c>). Client credentials never are.</summary>
    public string? UpstreamApiKey { get; set; }

    /// <summary>Requests forwarded at the same time; the rest wait in the queue.</summary>
    [Range(1, 10_000)]
    public int MaxConcurrent { get; set; } = 64;

    /// <summary>Requests allowed to wait for a slot; one more gets 429 with Retry-After.</summary>
    [Range(0, 100_000)]
    public int MaxQueue { get; set; } = 1_000;

    /// <summary>Longest wait for a slot; past it the request gets 503 with Retry-After.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// A non-streaming request that waits for this model to load (a model ModelManager starts) is answered 200 after
    /// one <c>LoadingKeepAliveInterval</c> and sent a space every interval until the model's JSON body follows, so that
    /// load balancers do not cut its idle connection; a request's <c>X-LlmAspire-Keepalive</c> header (<c>whitespace</c>
    /// or <c>none</c>) overrides it. The status is then 200 whatever happens: a failure is the body, an OpenAI error object.
    /// </summary>
    public bool WhitespaceKeepAlive { get; set; }

    /// <summary>TCP connect to the model server.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// From sending the request to the first response body byte: prefill and the server's own queue for streams,
    /// the whole generation for non-streaming requests (the server answers only when done).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan FirstByteTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Longest silence between two chunks of a response once the first byte has arrived.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Ceiling for the whole upstream exchange, however steadily it streams.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>These settings with another concurrency limit (a managed model's comes from ModelManager's catalog).</summary>
    public ModelOptions WithMaxConcurrent(int maxConcurrent)
    {
        var copy = (ModelOptions)MemberwiseClone();
        copy.MaxConcurrent = maxConcurrent;
        return copy;
    }
}

/// <summary>The single pooled handler every forwarded request goes through. Keys under <c>Gateway:Upstream</c>.</summary>
internal sealed class UpstreamPoolOptions
{
    /// <summary>
    /// Connections are replaced after this long so DNS and endpoint changes are picked up; a connection busy with a
    /// stream is never cut, it is just not reused afterwards.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan PooledConnectionLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Idle connections are closed after this long. Below uvicorn's (vLLM's) 5-second keep-alive so the gateway
    /// never reuses a connection the server is closing.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan PooledConnectionIdleTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// Client request headers forwarded to model servers besides <c>Accept</c>, <c>Content-Type</c> and the trace
    /// context (a server's own extensions, e.g. vLLM's <c>X-Request-Id</c>); every other client header stays at the gateway.
    /// </summary>
    public List<string> ForwardedRequestHeaders { get; set; } = [];
}
