using LlmAspire.Gateway.Routing;
using LlmAspire.Gateway.Telemetry;

namespace LlmAspire.Gateway.Admission;

/// <summary>The admission queue of every routed model.</summary>
public sealed class AdmissionQueues : IDisposable
{
    private readonly Dictionary<string, AdmissionQueue> queues;

    public AdmissionQueues(IModelRouteTable routes, GatewayMetrics metrics, TimeProvider timeProvider)
    {
        queues = routes.Routes.ToDictionary(route => route.Id, route => new AdmissionQueue(route.Id, route.Options, timeProvider), StringComparer.Ordinal);
        metrics.ObserveAdmission(() => queues.Values.Select(queue => (queue.Model, queue.InFlight, queue.Queued)));
    }

    public AdmissionQueue this[string model] => queues[model];

    public IEnumerable<AdmissionQueue> All => queues.Values;

    public void Dispose()
    {
        foreach (var queue in queues.Values)
        {
            queue.Dispose();
        }
    }
}
