using System.Collections.Concurrent;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Routing;
using LlmAspire.Gateway.Api.Telemetry;

namespace LlmAspire.Gateway.Api.Admission;

/// <summary>
/// The admission queue of every model: fixed models' from the start, a managed model's from its first request. A
/// queue follows its model's entry in the routing table: when ModelManager's news changes a managed model's limits
/// (the catalog's <c>MaxConcurrency</c>), its queue takes them at once, with the requests it holds and queues.
/// </summary>
internal sealed partial class AdmissionQueues
{
    private readonly ConcurrentDictionary<string, AdmissionQueue> queues = new(StringComparer.Ordinal);
    private readonly IModelRouteTable routes;
    private readonly TimeProvider timeProvider;
    private readonly ILogger<AdmissionQueues> logger;

    // Reading a model's entry and applying it to its queue is one step: two of them at once must not let an older
    // entry be applied after a newer one.
    private readonly Lock following = new();

    public AdmissionQueues(IModelRouteTable routes, GatewayMetrics metrics, TimeProvider timeProvider, ILogger<AdmissionQueues> logger)
    {
        this.routes = routes;
        this.timeProvider = timeProvider;
        this.logger = logger;
        foreach (var model in routes.Models.Where(model => !model.Managed))
        {
            For(model.Id, model.Options);
        }

        metrics.ObserveAdmission(() => queues.Values.Select(queue => (queue.Model, queue.InFlight, queue.Queued)));
        routes.ModelsChanged += () =>
        {
            foreach (var queue in queues.Values)
            {
                Follow(queue);
            }
        };
    }

    /// <summary>Raised when a model goes from no request in flight, waiting for a slot or waiting for it to load to some, or back.</summary>
    public event Action? BusyChanged;

    public AdmissionQueue this[string model] => queues[model];

    public IEnumerable<AdmissionQueue> All => queues.Values;

    /// <summary>The model's queue, created with <paramref name="options"/> (what the request saw) when it has none yet.</summary>
    public AdmissionQueue For(string model, ModelOptions options)
    {
        if (queues.TryGetValue(model, out var queue))
        {
            return queue;
        }

        queue = queues.GetOrAdd(model, id => new AdmissionQueue(id, options, timeProvider, () => BusyChanged?.Invoke()));
        // The table may have changed since the request looked at it, before this queue was there to follow it.
        Follow(queue);
        return queue;
    }

    private void Follow(AdmissionQueue queue)
    {
        lock (following)
        {
            if (routes.TryGetModel(queue.Model, out var model) && queue.Apply(model.Options))
            {
                LogLimitsChanged(logger, queue.Model, model.Options.MaxConcurrent, model.Options.MaxQueue, model.Options.QueueTimeout);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Model {Model} now admits {MaxConcurrent} requests at once and {MaxQueue} waiting (queue timeout {QueueTimeout}); requests under way keep their slots")]
    private static partial void LogLimitsChanged(ILogger logger, string model, int maxConcurrent, int maxQueue, TimeSpan queueTimeout);
}
