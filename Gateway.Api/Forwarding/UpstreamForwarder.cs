using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Shutdown;
using Yarp.ReverseProxy.Forwarder;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// Sends an admitted request to its model server and hands the answer to the client: through YARP while the response
/// is still the model server's to start, or through <see cref="StartedResponseForwarder"/> when the gateway already
/// started it while the model loaded (a stream's <c>: loading</c> comments, spaces before a JSON body). Either way the call is one span and one set of GenAI measurements, and its
/// exchange is the request's <see cref="RequestState.Upstream"/>.
/// </summary>
internal sealed partial class UpstreamForwarder(
    IHttpForwarder forwarder,
    UpstreamHttpClient upstream,
    UpstreamTransformer transformer,
    StartedResponseForwarder startedResponses,
    UpstreamMetrics metrics,
    GatewayShutdown shutdown,
    TimeProvider timeProvider,
    ILogger<UpstreamForwarder> logger)
{
    // Most gateways give every model the same request timeout, so one config object serves them all.
    private ForwarderRequestConfig? lastConfig;

    public async Task<UpstreamExchange> ForwardAsync(HttpContext context, ModelRoute route, InferenceOperation operation, InferenceRequest request,
        ReadOnlyMemory<byte> upstreamBody, ResponseCapture? capture)
    {
        var exchange = StartExchange(context, route, operation, request, upstreamBody, capture);
        if (context.Response.HasStarted)
        {
            using var startedActivity = UpstreamMetrics.StartActivity(exchange);
            await startedResponses.ForwardAsync(context, exchange);
            metrics.Completed(exchange, context.Response.StatusCode, startedActivity);
            return exchange;
        }

        using var activity = UpstreamMetrics.StartActivity(exchange);
        var error = await SendAsync(context, exchange);
        if (error != ForwarderError.None && !context.RequestAborted.IsCancellationRequested)
        {
            await ReportForwardingErrorAsync(context, exchange, error);
        }

        metrics.Completed(exchange, context.Response.StatusCode, activity);
        return exchange;
    }

    /// <summary>Begins the request's upstream leg (its <see cref="RequestState.Upstream"/>).</summary>
    internal UpstreamExchange StartExchange(HttpContext context, ModelRoute route, InferenceOperation operation, InferenceRequest request,
        ReadOnlyMemory<byte> upstreamBody, ResponseCapture? capture)
    {
        var exchange = new UpstreamExchange(route, operation, request.Stream, request.ClientRequestedUsage, timeProvider, shutdown.GraceOver)
        {
            RequestBody = upstreamBody,
            Capture = capture,
        };
        RequestState.Of(context).Upstream = exchange;
        return exchange;
    }

    /// <summary>Forwards through YARP with the response not yet started; no telemetry or error answer of its own (the warm-up runs this too).</summary>
    /// <remarks>
    /// The body itself is not handed to YARP: <see cref="UpstreamPolicyHandler"/> sends <see cref="UpstreamExchange.RequestBody"/>
    /// with the headers. YARP is only told its length, so that it sets up a body whose headers the transformer fills.
    /// </remarks>
    internal ValueTask<ForwarderError> SendAsync(HttpContext context, UpstreamExchange exchange)
    {
        context.Request.ContentLength = exchange.RequestBody.Length;
        context.Request.Headers.TransferEncoding = default;
        return forwarder.SendAsync(context, exchange.Route.DestinationPrefix, upstream.Invoker, ConfigFor(exchange.Route), transformer);
    }

    /// <summary>YARP's settings for a route, made once per request timeout rather than once per request.</summary>
    private ForwarderRequestConfig ConfigFor(ModelRoute route)
    {
        var config = lastConfig;
        if (config?.ActivityTimeout != route.Options.RequestTimeout)
        {
            lastConfig = config = new ForwarderRequestConfig
            {
                // The gateway's own deadlines govern reads; YARP's activity timeout (100 s by default, the classic
                // long-generation killer) is lifted to the overall ceiling.
                ActivityTimeout = route.Options.RequestTimeout,
                Version = System.Net.HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            };
        }

        return config;
    }

    private async Task ReportForwardingErrorAsync(HttpContext context, UpstreamExchange exchange, ForwarderError error)
    {
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        if (exchange.Failure == UpstreamFailure.None && error is ForwarderError.Request or ForwarderError.RequestTimedOut)
        {
            exchange.Failure = UpstreamFailure.Unreachable;
        }

        LogForwardingError(logger, exchange.Route.Id, error, exchange.Failure, exception);
        if (context.Response.HasStarted)
        {
            // Streams are ended cleanly by the response stream; a plain body cut short can only be aborted.
            return;
        }

        context.Response.Clear();
        await exchange.FailureError().WriteAsync(context.Response, exchange.RetryAfter());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forwarding to model {Model} failed: {Error} ({Failure})")]
    private static partial void LogForwardingError(ILogger logger, string model, ForwarderError error, UpstreamFailure failure, Exception? exception);
}
