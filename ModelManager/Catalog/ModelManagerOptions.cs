using System.ComponentModel.DataAnnotations;

namespace LlmAspire.ModelManager.Catalog;

/// <summary>The <c>ModelManager</c> configuration section.</summary>
public sealed class ModelManagerOptions
{
    public const string SectionName = "ModelManager";

    /// <summary>Bearer token every API call must carry: the API starts and stops GPU workloads.</summary>
    [Required]
    public string? ApiToken { get; set; }

    /// <summary>Models loaded at once (the GPU budget); loading one more evicts the least recently used idle model.</summary>
    [Range(1, 1_000)]
    public int MaxLoadedModels { get; set; } = 3;

    /// <summary>How often a starting server's readiness is probed; every interval can add to the first request's latency.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan ReadinessPollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often idle models are looked for.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan IdleCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A gateway replica that has not reported for this long no longer counts (its in-flight requests are forgotten).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ReplicaGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>First wait before a failed model may be started again; doubles per consecutive failure.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan FailureBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait between start attempts of a model that keeps failing.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaxFailureBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The catalog: the only models this service will ever start, keyed by model id.</summary>
    public Dictionary<string, CatalogModelOptions> Models { get; set; } = new(StringComparer.Ordinal);
}

public enum RuntimeKind
{
    Process,
}

/// <summary>One catalog entry, under <c>ModelManager:Models:&lt;id&gt;</c>.</summary>
public sealed class CatalogModelOptions
{
    public RuntimeKind Runtime { get; set; } = RuntimeKind.Process;

    /// <summary>Executable of an OpenAI-compatible server (<c>vllm</c>, <c>llama-server</c>, <c>dotnet</c> for the simulator).</summary>
    [Required]
    public string? Command { get; set; }

    /// <summary>Arguments; <c>{port}</c> and <c>{model}</c> are replaced by the assigned port and the model id.</summary>
    public List<string> Args { get; set; } = [];

    public Dictionary<string, string> Environment { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Loopback port the server listens on; 0 picks a free one at each start.</summary>
    [Range(0, 65_535)]
    public int Port { get; set; }

    /// <summary>Stopped after this long without requests (none in flight, the last one ended this long ago).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "7.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Longest load time (weights download and load can take minutes); past it the start is a failure.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "02:00:00")]
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Grace period between asking the server to stop and killing it.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests the gateway forwards to this model at once.</summary>
    [Range(1, 10_000)]
    public int MaxConcurrency { get; set; } = 64;
}
