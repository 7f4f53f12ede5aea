using System.Text.Json;
using LlmAspire.Cache;
using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Caching;

/// <summary>
/// What the cache step decided for one request. A leader's ticket carries the capture to fill while forwarding and
/// must be completed or disposed whatever happens, or identical requests waiting on it would wait until they give up.
/// </summary>
internal sealed class CacheTicket : IDisposable
{
    public static readonly CacheTicket Uncached = new();
    public static readonly CacheTicket Served = new() { IsServed = true };

    private readonly ResponseCache? cache;
    private readonly CacheMetrics? metrics;
    private readonly SingleFlight<string, byte[]?>.Flight? flight;
    private readonly string? key;
    private readonly string? model;
    private readonly CompletionKind kind;
    private readonly ModelCachePolicy policy;

    public CacheTicket(ResponseCache cache, CacheMetrics metrics, SingleFlight<string, byte[]?>.Flight flight, string key, string model,
        CompletionKind kind, ModelCachePolicy policy, ResponseCapture capture)
    {
        this.cache = cache;
        this.metrics = metrics;
        this.flight = flight;
        this.key = key;
        this.model = model;
        this.kind = kind;
        this.policy = policy;
        Capture = capture;
    }

    private CacheTicket()
    {
    }

    /// <summary>True when the cache already answered the request.</summary>
    public bool IsServed { get; private init; }

    /// <summary>Where the forwarded answer is copied; null when it is not to be stored.</summary>
    public ResponseCapture? Capture { get; }

    /// <summary>Stores the forwarded answer if it is complete and successful, and hands it to the waiting requests.</summary>
    public async Task CompleteAsync(HttpContext context, UpstreamExchange exchange)
    {
        if (flight is null || Capture is null)
        {
            return;
        }

        var entry = Entry(context, exchange, out var outcome);
        if (entry is not null)
        {
            // Stored before the flight ends: a request arriving in between would otherwise find neither and call the model again.
            outcome = await cache!.SetAsync(key!, entry, policy.Ttl) ? "stored" : "failed";
        }

        flight.Complete(entry);
        metrics!.Stored(model!, outcome);
    }

    public void Dispose() => flight?.Complete(null);

    private byte[]? Entry(HttpContext context, UpstreamExchange exchange, out string outcome)
    {
        outcome = "not_cacheable";
        if (context.Response.StatusCode != StatusCodes.Status200OK || exchange.Failure != UpstreamFailure.None || context.RequestAborted.IsCancellationRequested)
        {
            return null;
        }

        if (Capture!.Overflowed)
        {
            outcome = "too_large";
            return null;
        }

        var entry = exchange.Streaming ? CompletionAssembler.FromServerSentEvents(Capture.Captured, kind) : Validated(Capture.Captured);
        if (entry is not null && entry.Length > policy.MaxEntryBytes)
        {
            outcome = "too_large";
            return null;
        }

        return entry;
    }

    /// <summary>A plain answer is stored as sent, if it is one whole JSON object that is not an error.</summary>
    private static byte[]? Validated(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object && !document.RootElement.TryGetProperty("error", out _)
                ? body.ToArray()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
