using LlmAspire.Gateway.Api.Admission;
using LlmAspire.Gateway.Api.Caching;
using LlmAspire.Gateway.Api.Forwarding;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Routing;
using LlmAspire.Gateway.Api.Shutdown;
using LlmAspire.Gateway.Api.Telemetry;

namespace LlmAspire.Gateway.Api.Inference;

/// <summary>
/// The request path of an inference call, step by step: read and check the body, route by model, answer from the
/// cache when it can, wait for admission (and for the model to load), forward. Every early answer is an OpenAI-shaped
/// error, also the one a request still waiting when the shutdown's grace period ends gets. Authentication, rate limits
/// and the ledger wrap this path as middleware.
/// </summary>
internal sealed class InferenceProxy(
    InferenceBodyReader bodies,
    IModelRouteTable routes,
    InferenceCache cache,
    AdmissionQueues admission,
    ModelLoadingWait modelLoading,
    UpstreamForwarder forwarder,
    GatewayMetrics metrics,
    GatewayShutdown shutdown)
{
    public async Task HandleAsync(HttpContext context, InferenceOperation operation)
    {
        var read = await bodies.ReadAsync(context, operation);
        if (read is null)
        {
            return;
        }

        var (request, body) = read.Value;

        RequestState.Of(context).Model = request.Model;
        if (!routes.TryGetModel(request.Model, out var model))
        {
            await OpenAiError.ModelNotFound(request.Model).WriteAsync(context.Response);
            return;
        }

        using var cached = await cache.BeginAsync(context, model.Id, operation, request, body);
        if (cached.IsServed)
        {
            return;
        }

        // Waiting for a slot or for the model ends with the request, or with the shutdown's grace period.
        try
        {
            await AdmitAndForwardAsync(context, operation, request, model, body, cached);
        }
        catch (OperationCanceledException) when (shutdown.GraceOver.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            await FailAsync(context, GatewayShutdown.Error(model.Id), GatewayShutdown.RetryAfter);
        }
    }

    private async Task AdmitAndForwardAsync(HttpContext context, InferenceOperation operation, InferenceRequest request, RoutedModel model,
        ReadOnlyMemory<byte> body, CacheTicket cached)
    {
        // Before ModelManager's catalog has been read, an unknown id may not exist: ModelManager is asked before the
        // request gets a queue. Otherwise a request queues first and, holding its slot, waits for the model to load.
        var route = model.Route;
        if (model.Unconfirmed && (route = await ActivateAsync(context, model, request.Stream)) is null)
        {
            return;
        }

        var queue = admission.For(model.Id, route?.Options ?? model.Options);
        var (result, slot) = await queue.EnterAsync(RequestState.Of(context).Caller, context.RequestAborted, modelLoading: route is null, shutdown.GraceOver);
        using (slot)
        {
            if (result != AdmissionResult.Admitted)
            {
                metrics.Rejected(queue.Model, result == AdmissionResult.QueueFull ? "queue_full" : "queue_timeout");
                var (error, retryAfter) = queue.Refusal(result);
                await FailAsync(context, error, retryAfter);
                return;
            }

            if (route is null)
            {
                if ((route = await ActivateAsync(context, model, request.Stream)) is null)
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

    /// <summary>The model's route once it is ready; null when it could not be made ready and the client has been told why.</summary>
    private async Task<ModelRoute?> ActivateAsync(HttpContext context, RoutedModel model, bool stream)
    {
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, shutdown.GraceOver);
        try
        {
            return await modelLoading.UntilReadyAsync(context, model, stream, waiting.Token);
        }
        catch (ModelActivationException unavailable)
        {
            await FailAsync(context, unavailable.Error, unavailable.RetryAfter);
            return null;
        }
    }

    /// <summary>
    /// Answers with <paramref name="error"/>: as the response when nothing was sent yet, otherwise as the end of the
    /// response already started (a stream's error event, or the JSON body after keep-alive spaces), with the status it
    /// stands for kept for the ledger.
    /// </summary>
    private static async Task FailAsync(HttpContext context, OpenAiError error, TimeSpan? retryAfter)
    {
        if (!context.Response.HasStarted)
        {
            await error.WriteAsync(context.Response, retryAfter);
            return;
        }

        RequestState.Of(context).EndedWithStatus = error.Status;
        await error.WriteEndingAsync(context.Response);
    }
}
