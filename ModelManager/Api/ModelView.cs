using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Lifecycle;

namespace LlmAspire.ModelManager.Api;

/// <summary>A model as the API shows it (camelCase JSON).</summary>
/// <param name="Queued">Requests waiting in the gateways' admission queues for it, or for it to load.</param>
/// <param name="IdleStopAt">When the idle reaper stops it if nothing arrives; null unless ready with nothing in flight or queued.</param>
public sealed record ModelView(
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
    ColdStartView? LastColdStartPhases,
    string? LastError,
    DateTimeOffset? RetryAt,
    int MaxConcurrency,
    double IdleTimeoutSeconds,
    long Version)
{
    public static ModelView Of(ManagedModel model, ActivityTracker activity) => new(
        model.Id,
        model.RuntimeName,
        model.State.Name(),
        model.Endpoint,
        model.Instance,
        activity.InFlight(model.Id),
        activity.Queued(model.Id),
        activity.LastActivity(model.Id),
        model.State == ModelState.Ready && activity.IdleSince(model.Id, model.LoadedSince) is { } idleSince ? idleSince + model.Options.IdleTimeout : null,
        model.LoadedSince,
        model.StateChangedAt,
        model.LastColdStart?.TotalSeconds,
        model.LastColdStartPhases is { } phases ? new ColdStartView(phases.Wait.TotalSeconds, phases.Launch.TotalSeconds, phases.Load.TotalSeconds) : null,
        model.LastError,
        model.RetryAt,
        model.Options.MaxConcurrency,
        model.Options.IdleTimeout.TotalSeconds,
        model.Version);
}

/// <summary>
/// The last cold start by phase: start request → runtime start call (waiting for a stop or evictions), the runtime call
/// (image check, container or process start), → readiness checks passed (the server loading its weights).
/// </summary>
public sealed record ColdStartView(double WaitSeconds, double LaunchSeconds, double LoadSeconds);

/// <summary>The whole fleet at one version: the answer of the list, the long poll and every change-feed event.</summary>
public sealed record FleetView(long Version, int LoadedModels, int MaxLoadedModels, IReadOnlyList<ModelView> Models)
{
    public static FleetView Of(ModelFleet fleet, ActivityTracker activity, int maxLoaded)
    {
        // Read the version first: a change racing with this snapshot then shows up again under a newer version.
        var version = fleet.Version;
        return new FleetView(
            version,
            fleet.LoadedCount,
            maxLoaded,
            [.. fleet.Models.Values.OrderBy(model => model.Id, StringComparer.Ordinal).Select(model => ModelView.Of(model, activity))]);
    }
}

/// <summary>A batch of activity from one gateway replica: its whole picture, every few seconds.</summary>
public sealed record ActivityReport(string? Replica, Dictionary<string, ModelActivity>? Models);
