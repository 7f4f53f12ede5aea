namespace LlmAspire.ModelManager.Client;

/// <summary>The whole fleet at one version: the answer of the list, the long poll and every change-feed event.</summary>
/// <param name="Version">Counts state changes of any model; activity alone does not move it.</param>
/// <param name="LoadedModels">Models starting, ready or stopping (holding GPU memory).</param>
/// <param name="Models">Sorted by id.</param>
/// <param name="SleepingModels">Models asleep: their server runs, its GPU memory freed.</param>
public sealed record FleetSnapshot(
    long Version, int LoadedModels, int MaxLoadedModels, IReadOnlyList<ModelSnapshot> Models, int SleepingModels = 0, int MaxSleepingModels = 0);

/// <summary>A catalog model as the API shows it (docs/modelmanager.md, "A model").</summary>
/// <param name="State">One of <see cref="ModelStateNames"/>; a state a client does not know means "not ready".</param>
/// <param name="Endpoint">Root URL of the server's OpenAI-compatible API, only while ready.</param>
/// <param name="Instance">Container id or process id of the current server.</param>
/// <param name="InFlight">Requests forwarded to the server, summed over the live gateway replicas.</param>
/// <param name="Queued">Requests waiting in the gateways' admission queues for it, or for it to load.</param>
/// <param name="LastActivity">When a request was last in flight or queued, ended, or ensured.</param>
/// <param name="IdleStopAt">When the idle reaper stops it if nothing arrives; null unless ready or sleeping with nothing in flight or queued.</param>
/// <param name="LoadedSince">When it last became ready.</param>
/// <param name="LastColdStartSeconds">Start request to ready, of the last start that launched a server.</param>
/// <param name="LastError">Why the last start failed or why the server last exited.</param>
/// <param name="RetryAt">While failed: when a start may be tried again.</param>
/// <param name="MaxConcurrency">How many requests a gateway should forward to it at once.</param>
/// <param name="IdleTimeoutSeconds">Its stop time (<c>StopAfter</c>), in seconds.</param>
/// <param name="Version">The fleet version of this model's last state change.</param>
/// <param name="SleepAfterSeconds">Its sleep time (<c>SleepAfter</c>), in seconds; null when it is never put to sleep.</param>
/// <param name="IdleSleepAt">When the idle reaper puts it to sleep if nothing arrives; null unless ready, with a sleep time, and idle.</param>
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
    long Version,
    double? SleepAfterSeconds = null,
    DateTimeOffset? IdleSleepAt = null);

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

    /// <summary>The server runs with its GPU memory freed (vLLM sleep mode); not routable: <c>ensure</c> wakes it.</summary>
    public const string Sleeping = "sleeping";
    public const string Stopping = "stopping";
    public const string Failed = "failed";
}
