using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Lifecycle;

namespace LlmAspire.ModelManager.Api;

/// <summary>The fleet and its models as the API shows them, from the lifecycle's state and the gateways' activity.</summary>
internal static class Snapshots
{
    public static FleetSnapshot Fleet(ModelFleet fleet, ActivityTracker activity, int maxLoaded)
    {
        // Read the version first: a change racing with this snapshot then shows up again under a newer version.
        var version = fleet.Version;
        return new FleetSnapshot(
            version,
            fleet.LoadedCount,
            maxLoaded,
            [.. fleet.Models.Values.OrderBy(model => model.Id, StringComparer.Ordinal).Select(model => Model(model, activity))]);
    }

    public static ModelSnapshot Model(ManagedModel model, ActivityTracker activity) => new(
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
        model.LastColdStartPhases is { } phases ? new ColdStartPhaseSeconds(phases.Wait.TotalSeconds, phases.Launch.TotalSeconds, phases.Load.TotalSeconds) : null,
        model.LastError,
        model.RetryAt,
        model.Options.MaxConcurrency,
        model.Options.IdleTimeout.TotalSeconds,
        model.Version);
}
