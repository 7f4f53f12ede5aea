using System.ComponentModel.DataAnnotations;

namespace LlmAspire.ModelManager.Catalog;

/// <summary>The <c>ModelManager</c> configuration section.</summary>
internal sealed class ModelManagerOptions
{
    public const string SectionName = "ModelManager";

    /// <summary>Bearer token every API call must carry: the API starts and stops GPU workloads.</summary>
    [Required]
    public string? ApiToken { get; set; }

    /// <summary>
    /// Owner name written on every container label and process state file. A ModelManager adopts only the servers
    /// carrying its own name, so two of them can share a Docker engine or a machine without touching each other's.
    /// </summary>
    public string Name { get; set; } = "modelmanager";

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

    /// <summary>
    /// Models kept asleep at once (vLLM sleep mode: GPU memory freed, the process kept, level 1 holding the weights in
    /// CPU memory). One more first stops the least recently used sleeping model.
    /// </summary>
    [Range(1, 1_000)]
    public int MaxSleepingModels { get; set; } = 3;

    /// <summary>
    /// A ready model used (ensured, or reported by a gateway) within this window is not evicted to make room for
    /// another: its requests may be on their way but not reported yet (gateways report in batches). 0 turns it off.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan EvictionGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First wait before a failed model may be started again; doubles per consecutive failure.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan FailureBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait between start attempts of a model that keeps failing.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaxFailureBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the change-feed stream sends a comment line when nothing changes, so proxies keep it open.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ChangeFeedHeartbeat { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The change-feed stream sends an activity-only update (in flight, queued, last activity) at most this often;
    /// state changes go out at once.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan ChangeFeedActivityInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Whether a graceful shutdown of ModelManager also stops the model servers. Off by default: warm models keep
    /// serving through a ModelManager restart, and the restarted service adopts them.
    /// </summary>
    public bool StopModelsOnShutdown { get; set; }

    /// <summary>The Docker runtime's engine connection.</summary>
    public DockerRuntimeOptions Docker { get; set; } = new();

    /// <summary>The local-process runtime's settings.</summary>
    public ProcessRuntimeOptions Process { get; set; } = new();

    /// <summary>The catalog: the only models this service will ever start, keyed by model id.</summary>
    public Dictionary<string, CatalogModelOptions> Models { get; set; } = new(StringComparer.Ordinal);
}

/// <summary><c>ModelManager:Docker</c>.</summary>
internal sealed class DockerRuntimeOptions
{
    /// <summary>Docker Engine API endpoint (<c>unix:///var/run/docker.sock</c>, <c>tcp://host:2375</c>); default: <c>DOCKER_HOST</c>, else the local socket.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Longest wait for one Engine API call (create, start, inspect, list); pulls and stops have their own limits.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest wait for an image pull (model server images are several GB).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "06:00:00")]
    public TimeSpan PullTimeout { get; set; } = TimeSpan.FromMinutes(30);
}

/// <summary><c>ModelManager:Process</c>.</summary>
internal sealed class ProcessRuntimeOptions
{
    /// <summary>
    /// Where each running server's state file (pid, start time, port) and output log are kept, so that a restarted
    /// ModelManager adopts the processes it started. Default: <c>&lt;temp&gt;/llmaspire-modelmanager/&lt;Name&gt;</c>,
    /// which, like the processes themselves, does not outlive a reboot.
    /// </summary>
    public string? StateDirectory { get; set; }

    /// <summary>A server's output log starts over when it grows past this size.</summary>
    [Range(65_536, 10_737_418_240)]
    public long MaxLogBytes { get; set; } = 64 * 1024 * 1024;
}

internal enum RuntimeKind
{
    /// <summary>A local process: any OpenAI-compatible server command.</summary>
    Process,

    /// <summary>A container through the Docker Engine API.</summary>
    Docker,
}

internal enum DockerNetwork
{
    /// <summary>The container shares the host's network; the server listens on the assigned port itself (bind it to 127.0.0.1).</summary>
    Host,

    /// <summary>Docker's bridge network; <c>ContainerPort</c> is published on 127.0.0.1 at the assigned port.</summary>
    Bridge,
}

/// <summary>What happens to a load that nobody waits for any more.</summary>
internal enum AbandonedLoadPolicy
{
    /// <summary>It goes on: the model is ready for the next request.</summary>
    Continue,

    /// <summary>It is cancelled and the server stopped: the GPU is not held for a model nobody asked for.</summary>
    Cancel,
}

internal enum PullPolicy
{
    /// <summary>Pull the image when the engine does not have it.</summary>
    Missing,

    /// <summary>Never pull; a missing image is a start failure.</summary>
    Never,
}

/// <summary>One catalog entry, under <c>ModelManager:Models:&lt;id&gt;</c>.</summary>
internal sealed class CatalogModelOptions
{
    public RuntimeKind Runtime { get; set; } = RuntimeKind.Process;

    /// <summary>
    /// Process: the executable of an OpenAI-compatible server (<c>vllm</c>, <c>llama-server</c>, <c>dotnet</c> for the
    /// simulator). Docker: overrides the image's entrypoint (optional).
    /// </summary>
    public string? Command { get; set; }

    /// <summary>Docker: the image (<c>vllm/vllm-openai:v0.11.0</c>).</summary>
    public string? Image { get; set; }

    /// <summary>
    /// Arguments (Docker: the container command, after the entrypoint). <c>{port}</c> is replaced by the port the
    /// server must listen on and <c>{model}</c> by the model id.
    /// </summary>
    public List<string> Args { get; set; } = [];

    public Dictionary<string, string> Environment { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The server's working directory (Docker: inside the container). Default: ModelManager's own, or the image's.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>
    /// GPUs: <c>all</c>, a count (<c>2</c>) or device ids (<c>device=1</c>, <c>device=0,1</c>, <c>device=GPU-&lt;uuid&gt;</c>).
    /// Docker turns it into a device request; a process gets device ids as <c>CUDA_VISIBLE_DEVICES</c>. Empty: none.
    /// </summary>
    public string? Gpu { get; set; }

    /// <summary>Docker: mounts as <c>docker run -v</c> takes them, <c>/host/path:/container/path[:ro]</c> or <c>volume-name:/path</c>.</summary>
    public List<string> Volumes { get; set; } = [];

    /// <summary>Loopback port the server is reached at; 0 picks a free one at each start.</summary>
    [Range(0, 65_535)]
    public int Port { get; set; }

    /// <summary>Docker: the network mode.</summary>
    public DockerNetwork Network { get; set; } = DockerNetwork.Host;

    /// <summary>Docker with <c>Bridge</c> network: the port the server listens on inside the container (vLLM: 8000).</summary>
    [Range(1, 65_535)]
    public int ContainerPort { get; set; } = 8000;

    /// <summary>Docker: IPC mode (<c>host</c> is what vLLM's docs use for tensor-parallel shared memory).</summary>
    public string? IpcMode { get; set; }

    /// <summary>Docker: size of <c>/dev/shm</c> in MiB (the alternative to <c>IpcMode=host</c>); 0 keeps the engine default.</summary>
    [Range(0, 1_048_576)]
    public long ShmSizeMiB { get; set; }

    /// <summary>Docker: when the image is pulled.</summary>
    public PullPolicy Pull { get; set; } = PullPolicy.Missing;

    /// <summary>The stop time of a model that sets neither <see cref="StopAfter"/> nor <see cref="IdleTimeout"/>.</summary>
    public static readonly TimeSpan DefaultStopAfter = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Put to sleep (vLLM sleep mode) after this long idle: nothing in flight or queued, the last request ended this long
    /// ago. Null: never put to sleep. Shorter than the stop time; the server must serve <c>/sleep</c> and <c>/wake_up</c>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "7.00:00:00")]
    public TimeSpan? SleepAfter { get; set; }

    /// <summary>vLLM's sleep level: 1 offloads the weights to CPU memory, 2 discards them (reloaded from disk at wake-up).</summary>
    [Range(1, 2)]
    public int SleepLevel { get; set; } = 1;

    /// <summary>Longest a sleep or wake-up of the server may take; past it the server is stopped (and, for a wake-up, started again).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan WakeTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Stopped after this long idle (asleep or not). Default <see cref="DefaultStopAfter"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "7.00:00:00")]
    public TimeSpan? StopAfter { get; set; }

    /// <summary>The older name of <see cref="StopAfter"/>, still read; a model sets one of the two.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "7.00:00:00")]
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>The stop time in effect: <see cref="StopAfter"/>, else <see cref="IdleTimeout"/>, else <see cref="DefaultStopAfter"/>.</summary>
    public TimeSpan EffectiveStopAfter => StopAfter ?? IdleTimeout ?? DefaultStopAfter;

    /// <summary>Whether a load goes on once every request that waited for it has gone.</summary>
    public AbandonedLoadPolicy OnAbandonedLoad { get; set; } = AbandonedLoadPolicy.Continue;

    /// <summary>Longest load time (weights download and load can take minutes); past it the start is a failure.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "06:00:00")]
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Grace period between asking the server to stop (SIGTERM) and killing it.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests the gateway forwards to this model at once.</summary>
    [Range(1, 10_000)]
    public int MaxConcurrency { get; set; } = 64;
}
