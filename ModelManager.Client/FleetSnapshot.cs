namespace LlmAspire.ModelManager.Client;

/// <summary>The whole fleet at one version: the answer of the list, the long poll and every change-feed event.</summary>
/// <param name="Version">Counts state changes of any model; activity alone does not move it.</param>
/// <param name="LoadedModels">Models starting, ready or stopping (holding GPU memory).</param>
/// <param name="Models">Sorted by id.</param>
public sealed record FleetSnapshot(long Version, int LoadedModels, int MaxLoadedModels, IReadOnlyList<ModelSnapshot> Models);

/// <summary>A catalog model as the API shows it (docs/modelmanager.md, "A model").</summary>
/// <param name="State">One of <see cref="ModelStateNames"/>; a state a client does not know means "not ready".</param>
/// <param name="Endpoint">Root URL of the server's OpenAI-compatible API, only while ready.</param>
/// <param name="Instance">Container id or process id of the current server.</param>
/// <param name="InFlight">Requests forwarded to the server, summed over the live gateway replicas.</param>
/// <param name="Queued">Requests waiting in the gateways' admission queues for it, or for it to load.</param>
/// <param name="LastActivity">When a request was last in flight or queued, ended, or ensured.</param>
/// <param name="IdleStopAt">When the idle reaper stops it if nothing arrives; null unless ready with nothing in flight or queued.</param>
/// <param name="LoadedSince">When it last became ready.</param>
/// <param name="LastColdStartSeconds">Start request to ready, of the last start that launched a server.</param>
/// <param name="LastError">Why the last start failed or why the server last exited.</param>
/// <param name="RetryAt">While failed: when a start may be tried again.</param>
/// <param name="MaxConcurrency">How many requests a gateway should forward to it at once.</param>
/// <param name="Version">The fleet version of this model's last state change.</param>
public sealed record ModelSnapshot(
    string Id,
    string Runtime,
    string State,
    Uri? Endpoint,
    string? Instance,
    int InFlight,
    int Queued,
    DateTimeOffset? LastActivity,
    DateTimeOffset? IdleStopAt,
    DateTimeOffset? LoadedSince,
    DateTimeOffset StateChangedAt,
    double? LastColdStartSeconds,
    ColdStartPhaseSeconds? LastColdStartPhases,
    string? LastError,
    DateTimeOffset? RetryAt,
    int MaxConcurrency,
    double IdleTimeoutSeconds,
    long Version);

/// <summary>
/// The last cold start by phase: start request → runtime start call (waiting for a stop or evictions), the runtime call
/// (image check, container or process start), → readiness checks passed (the server loading its weights).
/// </summary>
public sealed record ColdStartPhaseSeconds(double WaitSeconds, double LaunchSeconds, double LoadSeconds);

/// <summary>The values of <see cref="ModelSnapshot.State"/>.</summary>
public static class ModelStateNames
{
    public const string Stopped = "stopped";
    public const string Starting = "starting";
    public const string Ready = "ready";
    public const string Stopping = "stopping";
    public const string Failed = "failed";
}
