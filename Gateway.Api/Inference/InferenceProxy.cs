using System.Runtime.InteropServices;
using LlmAspire.Gateway.Admission;
using LlmAspire.Gateway.Caching;
using LlmAspire.Gateway.Configuration;
using LlmAspire.Gateway.Forwarding;
using LlmAspire.Gateway.Ledger;
using LlmAspire.Gateway.OpenAi;
using LlmAspire.Gateway.Routing;
using LlmAspire.Gateway.Telemetry;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LlmAspire.Gateway.Inference;

/// <summary>
/// The request path of an inference call: read and check the body, route by model, answer from the cache when it
/// can, wait for admission, forward, record. Every early answer is an OpenAI-shaped error.
/// </summary>
internal sealed partial class InferenceProxy(
    IOptions<GatewayOptions> options,
    IModelRouteTable routes,
    AdmissionQueues admission,
    InferenceCache cache,
    IHttpForwarder forwarder,
    UpstreamHttpClient upstream,
    GatewayMetrics metrics,
    TimeProvider timeProvider,
    ILogger<InferenceProxy> logger)
{
    private readonly long maxBodyBytes = options.Value.MaxRequestBodyBytes;

    public async Task HandleAsync(HttpContext context, InferenceOperation operation)
    {
        var body = await ReadBodyAsync(context);
        if (body is null)
        {
            return;
        }

        if (InferenceRequest.TryParse(body.Value.Span, operation, out var request) is { } invalid)
        {
            await invalid.WriteAsync(context.Response);
            return;
        }

        UsageRecord.For(context).Model = request.Model;
        if (!routes.TryGetRoute(request.Model, out var route))
        {
            await OpenAiError.ModelNotFound(request.Model).WriteAsync(context.Response);
            return;
        }

        using var cached = await cache.BeginAsync(context, route.Id, operation, request, body.Value);
        if (cached.IsServed)
        {
            return;
        }

        var queue = admission[route.Id];
        var (result, slot) = await queue.EnterAsync(context.RequestAborted);
        using (slot)
        {
            if (result != AdmissionResult.Admitted)
            {
                await RejectAsync(context, queue, result);
                return;
            }

            metrics.Admitted(route.Id);
            await ForwardAsync(context, route, operation, request, request.UpstreamBody(body.Value), cached);
        }
    }

    private async Task ForwardAsync(HttpContext context, ModelRoute route, InferenceOperation operation, InferenceRequest request, ReadOnlyMemory<byte> upstreamBody, CacheTicket cached)
    {
        var exchange = new UpstreamExchange(route, operation, request.Stream, request.ClientRequestedUsage, timeProvider) { Capture = cached.Capture };
        context.Features.Set(exchange);
        var bytes = MemoryMarshal.TryGetArray(upstreamBody, out var segment) ? segment : new ArraySegment<byte>(upstreamBody.ToArray());
        context.Request.Body = new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false);
        context.Request.ContentLength = upstreamBody.Length;
        context.Request.Headers.TransferEncoding = default;

        using var activity = GatewayMetrics.StartUpstreamActivity(exchange);
        var config = new ForwarderRequestConfig
        {
            // The gateway's own deadlines govern reads; YARP's activity timeout (100 s by default, the classic
            // long-generation killer) is lifted to the overall ceiling.
            ActivityTimeout = route.Options.RequestTimeout,
            Version = System.Net.HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };

        var error = await forwarder.SendAsync(context, route.DestinationPrefix, upstream.Invoker, config, UpstreamTransformer.Instance);
        if (error != ForwarderError.None && !context.RequestAborted.IsCancellationRequested)
        {
            await ReportForwardingErrorAsync(context, exchange, error);
        }

        metrics.Completed(exchange, context.Response.StatusCode, activity);
        await cached.CompleteAsync(context, exchange);
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
        var status = exchange.Failure is UpstreamFailure.FirstByteTimeout or UpstreamFailure.RequestTimeout
            ? StatusCodes.Status504GatewayTimeout
            : StatusCodes.Status502BadGateway;
        await new OpenAiError(status, exchange.DescribeFailure(), "server_error", null, exchange.FailureCode()).WriteAsync(context.Response);
    }

    private async Task RejectAsync(HttpContext context, AdmissionQueue queue, AdmissionResult result)
    {
        var retryAfter = queue.EstimateRetryAfter();
        var seconds = OpenAiError.RetryAfterSeconds(retryAfter);
        if (result == AdmissionResult.QueueFull)
        {
            metrics.Rejected(queue.Model, "queue_full");
            await new OpenAiError(StatusCodes.Status429TooManyRequests,
                $"Model '{queue.Model}' is at capacity ({queue.InFlight} running, {queue.Queued} waiting). Retry after {seconds} s.",
                "rate_limit_error", null, "model_queue_full").WriteAsync(context.Response, retryAfter);
        }
        else
        {
            metrics.Rejected(queue.Model, "queue_timeout");
            await new OpenAiError(StatusCodes.Status503ServiceUnavailable,
                $"Model '{queue.Model}' did not free a slot within its queue timeout. Retry after {seconds} s.",
                "server_error", null, "model_queue_timeout").WriteAsync(context.Response, retryAfter);
        }
    }

    /// <summary>Reads the whole body within the configured limit; answers 413 and returns null when it is larger.</summary>
    private async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > maxBodyBytes)
        {
            await OpenAiError.BodyTooLarge(maxBodyBytes).WriteAsync(context.Response);
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = maxBodyBytes;
        }

        try
        {
            if (context.Request.ContentLength is { } length)
            {
                var exact = new byte[length];
                await context.Request.Body.ReadExactlyAsync(exact, context.RequestAborted);
                return exact;
            }

            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await OpenAiError.BodyTooLarge(maxBodyBytes).WriteAsync(context.Response);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forwarding to model {Model} failed: {Error} ({Failure})")]
    private static partial void LogForwardingError(ILogger logger, string model, ForwarderError error, UpstreamFailure failure, Exception? exception);
}
