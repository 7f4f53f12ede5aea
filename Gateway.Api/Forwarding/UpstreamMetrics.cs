using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Telemetry;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// The calls to model servers, as the OpenTelemetry GenAI semantic conventions have a client record them
/// (<c>gen_ai.client.operation.duration</c>, <c>gen_ai.client.token.usage</c>, <c>gen_ai.server.time_to_first_token</c>,
/// a client span per call), and the connections they open. On the gateway's meter beside <see cref="GatewayMetrics"/>.
/// </summary>
internal sealed class UpstreamMetrics
{
    private static readonly ActivitySource ActivitySource = new(GatewayMetrics.MeterName);
    private static readonly long[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

    private readonly Counter<long> connectionsOpened;
    private readonly Counter<long> connectRetries;
    private readonly Histogram<double> operationDuration;
    private readonly Histogram<double> timeToFirstToken;
    private readonly Histogram<long> tokenUsage;

    public UpstreamMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        connectionsOpened = meter.CreateCounter<long>("llmaspire.gateway.upstream.connections.opened", "{connection}", "TCP connections opened to model servers.");
        connectRetries = meter.CreateCounter<long>("llmaspire.gateway.upstream.connect_retries", "{request}", "Requests retried after a failed connect.");
        operationDuration = meter.CreateHistogram("gen_ai.client.operation.duration", "s", "Upstream latency: request sent to response complete.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = GatewayMetrics.DurationBuckets });
        timeToFirstToken = meter.CreateHistogram("gen_ai.server.time_to_first_token", "s", "Request sent upstream to the first response byte.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = GatewayMetrics.DurationBuckets });
        tokenUsage = meter.CreateHistogram("gen_ai.client.token.usage", "{token}", "Tokens per request as reported by the model server.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
    }

    public void ConnectionOpened(DnsEndPoint endpoint) =>
        connectionsOpened.Add(1, new KeyValuePair<string, object?>("server.address", endpoint.Host), new KeyValuePair<string, object?>("server.port", endpoint.Port));

    public void ConnectRetried(string model) => connectRetries.Add(1, new KeyValuePair<string, object?>("gen_ai.request.model", model));

    /// <summary>Starts the span of one upstream call, a child of the incoming request's span.</summary>
    public static Activity? StartActivity(UpstreamExchange exchange)
    {
        var operation = exchange.Operation.Name();
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
        // Nothing listens without an OTLP endpoint: then the attributes are not even built (the port would be boxed).
        if (activity is null && !operationDuration.Enabled && !timeToFirstToken.Enabled && !tokenUsage.Enabled)
        {
            return;
        }

        var operation = exchange.Operation.Name();
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
}
