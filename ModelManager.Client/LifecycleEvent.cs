namespace LlmAspire.ModelManager.Client;

/// <summary>
/// One step in a model server's life, shaped like a row of the <c>model_lifecycle_events</c> table (docs/storage.md).
/// <see cref="Event"/> is one of <see cref="LifecycleEventKind"/>'s values.
/// </summary>
public sealed record LifecycleEvent(
    DateTimeOffset OccurredAt,
    string Model,
    string Event,
    string Runtime,
    string? Instance = null,
    Uri? Endpoint = null,
    double? DurationMs = null,
    string? Detail = null);

/// <summary>The answer of <c>GET /api/events</c>: the most recent lifecycle events, oldest first.</summary>
public sealed record LifecycleEventList(IReadOnlyList<LifecycleEvent> Events);

/// <summary>The values of <see cref="LifecycleEvent.Event"/>.</summary>
public static class LifecycleEventKind
{
    public const string Starting = "starting";
    public const string Adopted = "adopted";
    public const string Ready = "ready";
    public const string Stopping = "stopping";
    public const string Stopped = "stopped";
    public const string Evicted = "evicted";
    public const string Failed = "failed";
    public const string Exited = "exited";

    /// <summary>The server was put to sleep; the duration is the sleep call's.</summary>
    public const string Sleeping = "sleeping";

    /// <summary>A sleeping server was woken; the duration is from the ensure that woke it.</summary>
    public const string Woken = "woken";

    /// <summary>A load was cancelled because nobody waited for it any more (<c>OnAbandonedLoad = Cancel</c>).</summary>
    public const string Abandoned = "abandoned";
}
