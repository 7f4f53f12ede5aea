using System.Diagnostics;
using System.Diagnostics.Metrics;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Routing;

namespace LlmAspire.Gateway.Api.Telemetry;

/// <summary>
/// The gateway's meter: requests as the gateway answered them (status, cache, tokens served), admission and model
/// activation, as <c>llmaspire.gateway.*</c> instruments. Calls to model servers are recorded on the same meter by
/// the forwarding layer (GenAI semantic conventions). These are the gateway's figures on the dashboard's Metrics page.
/// </summary>
internal sealed class GatewayMetrics
{
    /// <summary>The model attribute of a request for a model the gateway does not know: any string a client sends would otherwise become a series.</summary>
    public const string OtherModel = "_OTHER";

    /// <summary>The meter's name, also the activity source's of the gateway's spans.</summary>
    public const string MeterName = "LlmAspire.Gateway";

    /// <summary>Buckets for durations from milliseconds (a cached answer) to half an hour (a long generation).</summary>
    public static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

    private readonly Meter meter;
    private readonly IModelRouteTable routes;
    private readonly Counter<long> requests;
    private readonly Counter<long> tokens;
    private readonly Counter<long> admitted;
    private readonly Counter<long> rejected;
    private readonly Histogram<double> activationDuration;

    public GatewayMetrics(IMeterFactory meterFactory, IModelRouteTable routes)
    {
        meter = meterFactory.Create(MeterName);
        this.routes = routes;
        requests = meter.CreateCounter<long>("llmaspire.gateway.requests", "{request}",
            "Inference requests the gateway answered, whatever the outcome: by model, operation, status and whether the cache answered.");
        tokens = meter.CreateCounter<long>("llmaspire.gateway.tokens", "{token}",
            "Tokens of the answers the gateway served (gen_ai.token.type input or output), including cached answers, which no model spent.");
        admitted = meter.CreateCounter<long>("llmaspire.gateway.requests.admitted", "{request}", "Requests that got a slot in their model's admission queue.");
        rejected = meter.CreateCounter<long>("llmaspire.gateway.requests.rejected", "{request}", "Requests refused by admission (queue_full → 429, queue_timeout → 503).");
        activationDuration = meter.CreateHistogram("llmaspire.gateway.model.activation.duration", "s",
            "Waiting for ModelManager to make a model ready (a cold start, or a check after a refused connect), by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    /// <summary>Publishes per-model in-flight and queued counts, read from the admission limiters themselves so they cannot drift.</summary>
    public void ObserveAdmission(Func<IEnumerable<(string Model, long InFlight, long Queued)>> read)
    {
        meter.CreateObservableUpDownCounter("llmaspire.gateway.requests.in_flight",
            () => read().Select(entry => new Measurement<long>(entry.InFlight, Model(entry.Model))), "{request}", "Requests forwarded to their model server (holding an admission slot, the model ready).");
        meter.CreateObservableUpDownCounter("llmaspire.gateway.requests.queued",
            () => read().Select(entry => new Measurement<long>(entry.Queued, Model(entry.Model))), "{request}", "Requests waiting for an admission slot, or holding one while their model loads.");
    }

    /// <summary>Counts one inference request once it has ended, with the tokens of its answer.</summary>
    public void RequestEnded(string? model, InferenceOperation operation, int status, TokenUsage? usage, bool cached)
    {
        // Nothing listens without an OTLP endpoint: then the request path does not even build the attributes.
        if (!requests.Enabled && !tokens.Enabled)
        {
            return;
        }

        var known = model is not null && routes.TryGetModel(model, out _) ? model : OtherModel;
        var tags = new TagList
        {
            { "gen_ai.request.model", known },
            { "gen_ai.operation.name", operation.Name() },
            { "llmaspire.cached", cached },
        };
        var requestTags = tags;
        requestTags.Add("http.response.status_code", status);
        requests.Add(1, requestTags);
        if (usage is { } used)
        {
            AddTokens(used.InputTokens, "input", tags);
            AddTokens(used.OutputTokens, "output", tags);
        }
    }

    public void Admitted(string model) => admitted.Add(1, Model(model));

    public void Rejected(string model, string reason) =>
        rejected.Add(1, new KeyValuePair<string, object?>("gen_ai.request.model", model), new KeyValuePair<string, object?>("reason", reason));

    public void ModelActivated(string model, string outcome, TimeSpan elapsed) =>
        activationDuration.Record(elapsed.TotalSeconds, Model(model), new KeyValuePair<string, object?>("outcome", outcome));

    private static KeyValuePair<string, object?> Model(string model) => new("gen_ai.request.model", model);

    private void AddTokens(long count, string type, TagList tags)
    {
        if (count > 0)
        {
            tags.Add("gen_ai.token.type", type);
            tokens.Add(count, tags);
        }
    }
}
