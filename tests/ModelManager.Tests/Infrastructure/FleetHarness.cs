using System.Diagnostics.Metrics;
using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Lifecycle;
using LlmAspire.ModelManager.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>A fleet on a fake runtime in virtual time, with its activity, idle reaper and recorded events, for lifecycle rules.</summary>
internal sealed record FleetHarness(ModelFleet Fleet, ActivityTracker Activity, IdleReaper Reaper, InMemoryLifecycleEventSink Events)
{
    public ManagedModel this[string id] => Fleet.Models[id];

    public IEnumerable<string> EventsOf(string model) => Events.Recent(model).Select(e => e.Event);

    public static FleetHarness Create(ModelManagerOptions settings, FakeRuntime runtime, TimeProvider time, IMeterFactory meters)
    {
        var options = Options.Create(settings);
        var activity = new ActivityTracker(options, time);
        var events = new InMemoryLifecycleEventSink(NullLogger<InMemoryLifecycleEventSink>.Instance);
        var fleet = new ModelFleet(
            options, [runtime], new ReadinessProbe(), new SleepModeClient(time), activity, time, events, new ModelManagerMetrics(meters), NullLogger<ManagedModel>.Instance);
        return new FleetHarness(fleet, activity, new IdleReaper(fleet, activity, options, time, NullLogger<IdleReaper>.Instance), events);
    }
}
