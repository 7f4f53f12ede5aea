using System.Text.Json;
using LlmAspire.Cache;
using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Caching;

/// <summary>
/// The cache step of the request path, between routing and admission. Deterministic requests (or forced ones) are
/// looked up by their canonical key within the caller's tenant (or the model's shared scope); a hit is answered here,
/// as JSON or replayed as a stream, without a queue slot. Concurrent identical misses elect one leader, which calls
/// the model while its answer is copied; the others wait for that answer and are served it as hits. Every answer
/// carries <c>x-cache: hit|miss|bypass</c> once the cache is configured.
/// </summary>
internal sealed class InferenceCache(ResponseCache cache, RedisConnection redis, CacheMetrics metrics)
{
    // A streamed answer's events are several times the size of the completion object they assemble into.
    private const int StreamCaptureFactor = 8;

    public async ValueTask<CacheTicket> BeginAsync(HttpContext context, string model, InferenceOperation operation, InferenceRequest request, ReadOnlyMemory<byte> body)
    {
        var policy = cache.PolicyFor(model);
        if (!cache.IsConfigured || !policy.Enabled)
        {
            return CacheTicket.Uncached;
        }

        var directive = CacheHeaders.Parse(context.Request.Headers[CacheHeaders.RequestHeader]);
        if (directive == CacheDirective.Bypass)
        {
            return Bypass(context, model, "requested");
        }

        var kind = Kind(operation);
        var caller = RequestState.Of(context).Caller;
        if (!CacheRequest.TryCreate(body.Span, kind, policy.Shared ? "shared" : $"tenant:{caller.Tenant}", out var entryKey))
        {
            return Bypass(context, model, "not_canonical");
        }

        if (!entryKey.Deterministic && directive != CacheDirective.Force)
        {
            return Bypass(context, model, "not_deterministic");
        }

        var flight = cache.Flights.Join(entryKey.Key, out var leader);
        if (!leader)
        {
            if (await flight.Result.WaitAsync(context.RequestAborted) is { } shared)
            {
                metrics.Coalesced(model);
                await ServeAsync(context, model, kind, request, shared);
                return CacheTicket.Served;
            }

            // The leader's answer could not be stored (failed, too large, Redis down): this request calls the model itself.
            return redis.IsAvailable ? Miss(context, model) : Bypass(context, model, "redis_unavailable");
        }

        var ticket = new CacheTicket(cache, metrics, flight, entryKey.Key, model, kind, policy,
            new ResponseCapture(request.Stream ? policy.MaxEntryBytes * StreamCaptureFactor : policy.MaxEntryBytes));
        try
        {
            var (available, entry) = await cache.GetAsync(entryKey.Key);
            if (!available)
            {
                ticket.Dispose();
                return Bypass(context, model, "redis_unavailable");
            }

            if (entry is not null)
            {
                flight.Complete(entry);
                await ServeAsync(context, model, kind, request, entry);
                return CacheTicket.Served;
            }
        }
        catch
        {
            ticket.Dispose();
            throw;
        }

        Miss(context, model);
        return ticket;
    }

    private async Task ServeAsync(HttpContext context, string model, CompletionKind kind, InferenceRequest request, byte[] entry)
    {
        metrics.Lookup(model, "hit");
        var state = RequestState.Of(context);
        state.Cached = true;
        state.CachedUsage = ReadUsage(entry);

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers[CacheHeaders.ResponseHeader] = "hit";
        byte[] body;
        if (request.Stream && kind != CompletionKind.Embeddings)
        {
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            body = StreamReplay.ToServerSentEvents(entry, kind, request.ClientRequestedUsage);
        }
        else
        {
            response.ContentType = "application/json";
            body = entry;
        }

        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    private CacheTicket Bypass(HttpContext context, string model, string reason)
    {
        metrics.Lookup(model, "bypass", reason);
        SetHeader(context, "bypass");
        return CacheTicket.Uncached;
    }

    private CacheTicket Miss(HttpContext context, string model)
    {
        metrics.Lookup(model, "miss");
        SetHeader(context, "miss");
        return CacheTicket.Uncached;
    }

    /// <summary>Set when the response starts, so it survives an error answer that clears the headers.</summary>
    private static void SetHeader(HttpContext context, string value) => context.Response.OnStarting(() =>
    {
        context.Response.Headers[CacheHeaders.ResponseHeader] = value;
        return Task.CompletedTask;
    });

    private static CompletionKind Kind(InferenceOperation operation) => operation switch
    {
        InferenceOperation.Chat => CompletionKind.Chat,
        InferenceOperation.TextCompletion => CompletionKind.Text,
        _ => CompletionKind.Embeddings,
    };

    private static TokenUsage? ReadUsage(byte[] entry)
    {
        using var document = JsonDocument.Parse(entry);
        return document.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
            && TokenUsage.TryRead(JsonSerializer.SerializeToUtf8Bytes(usage), out var tokens)
                ? tokens
                : null;
    }
}
