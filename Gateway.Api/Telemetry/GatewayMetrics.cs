using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using LlmAspire.Gateway.Api.Forwarding;
using LlmAspire.Gateway.Api.Inference;
using LlmAspire.Gateway.Api.Routing;

namespace LlmAspire.Gateway.Api.Telemetry;

/// <summary>
/// Gateway metrics and traces. Upstream calls follow the OpenTelemetry GenAI semantic conventions
/// (<c>gen_ai.client.operation.duration</c>, <c>gen_ai.client.token.usage</c>, <c>gen_ai.server.time_to_first_token</c>);
/// requests as the gateway answered them (status, cache, tokens served) and admission have their own
/// <c>llmaspire.gateway.*</c> instruments. These are the gateway's figures on the dashboard's Metrics page.
/// </summary>
internal sealed class GatewayMetrics
{
    /// <summary>The model attribute of a request for a model the gateway does not know: any string a client sends would otherwise become a series.</summary>
    public const string OtherModel = "_OTHER";

    public const string MeterName = "LlmAspire.Gateway";
    public static readonly ActivitySource ActivitySource = new(MeterName);

    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
    private static readonly long[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

    private readonly Meter meter;
    private readonly IModelRouteTable routes;
    private readonly Counter<long> requests;
    private readonly Counter<long> tokens;
    private readonly Counter<long> admitted;
    private readonly Counter<long> rejected;
    private readonly Counter<long> connectionsOpened;
    private readonly Counter<long> connectRetries;
    private readonly Histogram<double> operationDuration;
    private readonly Histogram<double> timeToFirstToken;
    private readonly Histogram<long> tokenUsage;
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
        connectionsOpened = meter.CreateCounter<long>("llmaspire.gateway.upstream.connections.opened", "{connection}", "TCP connections opened to model servers.");
        connectRetries = meter.CreateCounter<long>("llmaspire.gateway.upstream.connect_retries", "{request}", "Requests retried after a failed connect.");
        operationDuration = meter.CreateHistogram("gen_ai.client.operation.duration", "s", "Upstream latency: request sent to response complete.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        timeToFirstToken = meter.CreateHistogram("gen_ai.server.time_to_first_token", "s", "Request sent upstream to the first response byte.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        activationDuration = meter.CreateHistogram("llmaspire.gateway.model.activation.duration", "s",
            "Waiting for ModelManager to make a model ready (a cold start, or a check after a refused connect), by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        tokenUsage = meter.CreateHistogram("gen_ai.client.token.usage", "{token}", "Tokens per request as reported by the model server.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
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
            { "gen_ai.operation.name", InferenceRequest.OperationName(operation) },
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

    public void ConnectionOpened(DnsEndPoint endpoint) =>
        connectionsOpened.Add(1, new KeyValuePair<string, object?>("server.address", endpoint.Host), new KeyValuePair<string, object?>("server.port", endpoint.Port));

    public void ConnectRetried(string model) => connectRetries.Add(1, Model(model));

    public void ModelActivated(string model, string outcome, TimeSpan elapsed) =>
        activationDuration.Record(elapsed.TotalSeconds, Model(model), new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>Starts the span of one upstream call, a child of the incoming request's span.</summary>
    public static Activity? StartUpstreamActivity(UpstreamExchange exchange)
    {
        var operation = InferenceRequest.OperationName(exchange.Operation);
        var activity = ActivitySource.StartActivity($"{operation} {exchange.Route.Id}", ActivityKind.Client);
        activity?.SetTag("gen_ai.operation.name", operation);
        activity?.SetTag("gen_ai.request.model", exchange.Route.Id);
        activity?.SetTag("server.address", exchange.Route.Endpoint.Host);
        activity?.SetTag("server.port", exchange.Route.Endpoint.Port);
        return activity;
    }

    /// <summary>Records an upstream call once it has ended, on the metrics and on its span.</summary>
    public void Completed(UpstreamExchange exchange, int statusCode, Activity? activity)
    {
        var operation = InferenceRequest.OperationName(exchange.Operation);
        var tags = new TagList
        {
            { "gen_ai.operation.name", operation },
            { "gen_ai.request.model", exchange.Route.Id },
            { "server.address", exchange.Route.Endpoint.Host },
            { "server.port", exchange.Route.Endpoint.Port },
        };

        var errorType = exchange.Failure != UpstreamFailure.None ? exchange.FailureCode() : statusCode >= 400 ? statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        var durationTags = tags;
        if (errorType is not null)
        {
            durationTags.Add("error.type", errorType);
            activity?.SetTag("error.type", errorType);
            activity?.SetStatus(ActivityStatusCode.Error, exchange.Failure != UpstreamFailure.None ? exchange.DescribeFailure() : null);
        }

        operationDuration.Record(exchange.Elapsed.TotalSeconds, durationTags);
        if (exchange.TimeToFirstByte is { } ttft && exchange.Streaming)
        {
            timeToFirstToken.Record(ttft.TotalSeconds, tags);
        }

        if (exchange.Usage is { } usage)
        {
            var input = tags;
            input.Add("gen_ai.token.type", "input");
            tokenUsage.Record(usage.InputTokens, input);
            activity?.SetTag("gen_ai.usage.input_tokens", usage.InputTokens);
            if (exchange.Operation != InferenceOperation.Embeddings)
            {
                var output = tags;
                output.Add("gen_ai.token.type", "output");
                tokenUsage.Record(usage.OutputTokens, output);
                activity?.SetTag("gen_ai.usage.output_tokens", usage.OutputTokens);
            }
        }
    }

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
