using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Lifecycle;

namespace LlmAspire.ModelManager.Api;

/// <summary>The fleet and its models as the API shows them, from the lifecycle's state and the gateways' activity.</summary>
internal static class Snapshots
{
    public static FleetSnapshot Fleet(ModelFleet fleet, ActivityTracker activity, ModelManagerOptions options)
    {
        // Read the version first: a change racing with this snapshot then shows up again under a newer version.
        var version = fleet.Version;
        return new FleetSnapshot(
            version,
            fleet.LoadedCount,
            options.MaxLoadedModels,
            [.. fleet.Models.Values.OrderBy(model => model.Id, StringComparer.Ordinal).Select(model => Model(model, activity))],
            fleet.SleepingCount,
            options.MaxSleepingModels);
    }

    public static ModelSnapshot Model(ManagedModel model, ActivityTracker activity)
    {
        var state = model.State;
        var options = model.Options;
        var idleSince = state is ModelState.Ready or ModelState.Sleeping ? activity.IdleSince(model.Id, model.LoadedSince) : null;
        return new ModelSnapshot(
            model.Id,
            model.RuntimeName,
            state.Name(),
            model.Endpoint,
            model.Instance,
            activity.InFlight(model.Id),
            activity.Queued(model.Id),
            activity.LastActivity(model.Id),
            idleSince + options.EffectiveStopAfter,
            model.LoadedSince,
            model.StateChangedAt,
            model.LastColdStart?.TotalSeconds,
            model.LastColdStartPhases is { } phases ? new ColdStartPhaseSeconds(phases.Wait.TotalSeconds, phases.Launch.TotalSeconds, phases.Load.TotalSeconds) : null,
            model.LastError,
            model.RetryAt,
            options.MaxConcurrency,
            options.EffectiveStopAfter.TotalSeconds,
            model.Version,
            options.SleepAfter?.TotalSeconds,
            state == ModelState.Ready ? idleSince + options.SleepAfter : null);
    }
}
