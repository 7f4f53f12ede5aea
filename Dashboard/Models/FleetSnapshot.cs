namespace LlmAspire.Dashboard.Models;

/// <summary>ModelManager's fleet at one version: what its change feed sends (docs/modelmanager.md).</summary>
public sealed record FleetSnapshot(long Version, int LoadedModels, int MaxLoadedModels, IReadOnlyList<ModelSnapshot> Models);

/// <summary>One model as ModelManager's API shows it; only what the dashboard displays.</summary>
/// <param name="State"><c>stopped</c>, <c>starting</c>, <c>ready</c>, <c>stopping</c>, <c>failed</c>, or a state added later.</param>
public sealed record ModelSnapshot(
    string Id,
    string Runtime,
    string State,
    Uri? Endpoint,
    int InFlight,
    DateTimeOffset? LastActivity,
    DateTimeOffset? LoadedSince,
    DateTimeOffset StateChangedAt,
    double? LastColdStartSeconds,
    string? LastError,
    DateTimeOffset? RetryAt,
    double IdleTimeoutSeconds)
{
    /// <summary>
    /// Time left before the idle reaper may stop the model: only while it is ready with nothing in flight, counted from
    /// its last activity; null otherwise. Zero once due (the reaper checks at its own interval).
    /// </summary>
    public TimeSpan? IdleCountdown(DateTimeOffset now) =>
        State == "ready" && InFlight == 0 && LastActivity is { } last
            ? TimeSpan.FromSeconds(Math.Max(0, IdleTimeoutSeconds - (now - last).TotalSeconds))
            : null;
}
