using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Telemetry;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>What every model's state machine and pipelines use, the same for the whole fleet.</summary>
internal sealed record LifecycleServices(
    ModelManagerOptions Manager,
    ReadinessProbe Probe,
    SleepModeClient SleepMode,
    ActivityTracker Activity,
    TimeProvider Time,
    ILifecycleEventSink Events,
    ModelManagerMetrics Metrics,
    ILogger Logger);
