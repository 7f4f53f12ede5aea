using LlmAspire.Gateway.Api.Admission;
using LlmAspire.Gateway.Api.Caching;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Forwarding;
using LlmAspire.Gateway.Api.ModelLifecycle;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Routing;
using LlmAspire.Gateway.Api.Shutdown;
using LlmAspire.Gateway.Api.Telemetry;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Inference;

/// <summary>
/// The request path of an inference call: read and check the body, route by model, answer from the cache when it
/// can, wait for admission, forward, record. Every early answer is an OpenAI-shaped error, also the one a request
/// still waiting when the shutdown's grace period ends gets.
/// </summary>
internal sealed partial class InferenceProxy(
    IOptions<GatewayOptions> options,
    IOptions<ModelManagerClientOptions> modelManagerOptions,
    IModelRouteTable routes,
    ModelActivation activation,
    AdmissionQueues admission,
    InferenceCache cache,
    UpstreamForwarder forwarder,
    GatewayMetrics metrics,
    GatewayShutdown shutdown,
    TimeProvider timeProvider,
    ILogger<InferenceProxy> logger)
{
    private readonly long maxBodyBytes = options.Value.MaxRequestBodyBytes;
    private readonly TimeSpan loadingKeepAliveInterval = modelManagerOptions.Value.LoadingKeepAliveInterval;

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

        RequestState.Of(context).Model = request.Model;
        if (!routes.TryGetModel(request.Model, out var model))
        {
            await OpenAiError.ModelNotFound(request.Model).WriteAsync(context.Response);
            return;
        }

        using var cached = await cache.BeginAsync(context, model.Id, operation, request, body.Value);
        if (cached.IsServed)
        {
            return;
        }

        // Waiting for a slot or for the model ends with the request, or with the shutdown's grace period.
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, shutdown.GraceOver);
        try
        {
            await AdmitAndForwardAsync(context, operation, request, model, body.Value, cached, waiting.Token);
        }
        catch (OperationCanceledException) when (shutdown.GraceOver.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            await FailAsync(context, GatewayShutdown.Error(model.Id), GatewayShutdown.RetryAfter);
        }
    }

    private async Task AdmitAndForwardAsync(HttpContext context, InferenceOperation operation, InferenceRequest request, RoutedModel model,
        ReadOnlyMemory<byte> body, CacheTicket cached, CancellationToken waiting)
    {
        // Before ModelManager's catalog has been read, an unknown id may not exist: ModelManager is asked before the
        // request gets a queue. Otherwise a request queues first and, holding its slot, waits for the model to load.
        var route = model.Route;
        if (model.Unconfirmed && (route = await ActivateAsync(context, model, request.Stream, waiting)) is null)
        {
            return;
        }

        var queue = admission.For(model.Id, route?.Options ?? model.Options);
        var (result, slot) = await queue.EnterAsync(waiting, modelLoading: route is null);
        using (slot)
        {
            if (result != AdmissionResult.Admitted)
            {
                await RejectAsync(context, queue, result);
                return;
            }

            if (route is null)
            {
                if ((route = await ActivateAsync(context, model, request.Stream, waiting)) is null)
                {
                    return;
                }

                slot!.ModelReady();
            }

            metrics.Admitted(route.Id);
            var exchange = await forwarder.ForwardAsync(context, route, operation, request, request.UpstreamBody(body), cached.Capture);
            await cached.CompleteAsync(context, exchange);
        }
    }

    /// <summary>
    /// Has a model that is not loaded made ready (one ensure for every waiting request). A streaming client hears from
    /// the gateway meanwhile, which commits its response to 200: later errors become error events. Returns null when
    /// the model could not be made ready and the client has been told why.
    /// </summary>
    private async Task<ModelRoute?> ActivateAsync(HttpContext context, RoutedModel model, bool stream, CancellationToken waiting)
    {
        var loading = activation.ActivateAsync(model, waiting);
        if (stream && !loading.IsCompleted && !context.Response.HasStarted)
        {
            await LoadingKeepAlive.WriteUntilAsync(context.Response, model.Id, loading, loadingKeepAliveInterval, timeProvider);
        }

        try
        {
            return await loading;
        }
        catch (ModelActivationException unavailable)
        {
            await FailAsync(context, unavailable.Error, unavailable.RetryAfter);
            return null;
        }
    }

    /// <summary>
    /// Answers with <paramref name="error"/>: as the response when nothing was sent yet, otherwise as the event that
    /// ends the stream (with the status it stands for kept for the ledger).
    /// </summary>
    private static async Task FailAsync(HttpContext context, OpenAiError error, TimeSpan? retryAfter)
    {
        if (!context.Response.HasStarted)
        {
            await error.WriteAsync(context.Response, retryAfter);
            return;
        }

        RequestState.Of(context).EndedWithStatus = error.Status;
        await context.Response.Body.WriteAsync(error.ToServerSentEvents(), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private async Task RejectAsync(HttpContext context, AdmissionQueue queue, AdmissionResult result)
    {
        var retryAfter = queue.EstimateRetryAfter();
        var seconds = OpenAiError.RetryAfterSeconds(retryAfter);
        var full = result == AdmissionResult.QueueFull;
        metrics.Rejected(queue.Model, full ? "queue_full" : "queue_timeout");
        await FailAsync(context, full
            ? new OpenAiError(StatusCodes.Status429TooManyRequests,
                $"Model '{queue.Model}' is at capacity ({queue.InFlight} running, {queue.Queued} waiting). Retry after {seconds} s.",
                "rate_limit_error", null, "model_queue_full")
            : new OpenAiError(StatusCodes.Status503ServiceUnavailable,
                $"Model '{queue.Model}' did not free a slot within its queue timeout. Retry after {seconds} s.",
                "server_error", null, "model_queue_timeout"), retryAfter);
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
        catch (BadHttpRequestException exception)
        {
            // The client's fault (too large, bad chunked framing, sent too slowly): answered here, so that the ledger
            // records the status, and logged as one Debug line, not as the gateway's error.
            LogUnreadableBody(logger, exception.StatusCode, exception.Message);
            await (exception.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? OpenAiError.BodyTooLarge(maxBodyBytes)
                : OpenAiError.Of(exception.StatusCode, exception.Message, ErrorResponseExtensions.CodeFor(exception.StatusCode))).WriteAsync(context.Response);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "The request body could not be read ({Status}: {Reason})")]
    private static partial void LogUnreadableBody(ILogger logger, int status, string reason);
}
