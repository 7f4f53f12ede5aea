using LlmAspire.ModelManager.Client;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Where lifecycle events go. <see cref="Record"/> must not block: a database-backed sink queues and writes in batches.
/// </summary>
internal interface ILifecycleEventSink
{
    void Record(LifecycleEvent lifecycleEvent);
}

/// <summary>Keeps the most recent events in memory (the events API reads them) and logs each one.</summary>
internal sealed partial class InMemoryLifecycleEventSink(ILogger<InMemoryLifecycleEventSink> logger) : ILifecycleEventSink
{
    public const int Capacity = 1_000;
    private readonly Queue<LifecycleEvent> events = new();

    public void Record(LifecycleEvent lifecycleEvent)
    {
        lock (events)
        {
            events.Enqueue(lifecycleEvent);
            if (events.Count > Capacity)
            {
                events.Dequeue();
            }
        }

        LogEvent(
            logger, lifecycleEvent.Model, lifecycleEvent.Event, lifecycleEvent.Runtime, lifecycleEvent.Instance ?? "-",
            lifecycleEvent.DurationMs is { } ms ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $" after {ms:F0} ms") : "",
            lifecycleEvent.Detail is { Length: > 0 } detail ? $": {detail}" : "");
    }

    /// <summary>Recorded events, oldest first, optionally for one model only.</summary>
    public IReadOnlyList<LifecycleEvent> Recent(string? model = null)
    {
        lock (events)
        {
            return [.. events.Where(e => model is null || e.Model == model)];
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model}: {Event} ({Runtime} {Instance}){Duration}{Detail}")]
    private static partial void LogEvent(ILogger logger, string model, string @event, string runtime, string instance, string duration, string detail);
}
