using System.Collections.Concurrent;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Routing;
using LlmAspire.Gateway.Api.Telemetry;

namespace LlmAspire.Gateway.Api.Admission;

/// <summary>
/// The admission queue of every model: fixed models' from the start, a managed model's from its first request (with
/// the limits it had then; a changed catalog concurrency applies after a gateway restart).
/// </summary>
internal sealed class AdmissionQueues
{
    private readonly ConcurrentDictionary<string, AdmissionQueue> queues = new(StringComparer.Ordinal);
    private readonly TimeProvider timeProvider;

    public AdmissionQueues(IModelRouteTable routes, GatewayMetrics metrics, TimeProvider timeProvider)
    {
        this.timeProvider = timeProvider;
        foreach (var model in routes.Models.Where(model => !model.Managed))
        {
            For(model.Id, model.Options);
        }

        metrics.ObserveAdmission(() => queues.Values.Select(queue => (queue.Model, queue.InFlight, queue.Queued)));
    }

    /// <summary>Raised when a model goes from no request in flight, waiting for a slot or waiting for it to load to some, or back.</summary>
    public event Action? BusyChanged;

    public AdmissionQueue this[string model] => queues[model];

    public IEnumerable<AdmissionQueue> All => queues.Values;

    public AdmissionQueue For(string model, ModelOptions options) =>
        queues.TryGetValue(model, out var queue)
            ? queue
            : queues.GetOrAdd(model, id => new AdmissionQueue(id, options, timeProvider, () => BusyChanged?.Invoke()));
}
