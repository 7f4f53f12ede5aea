using System.Diagnostics.Metrics;

namespace LlmAspire.Cache;

/// <summary>Instruments of the response cache and of the gateway's Redis connection (meter <c>LlmAspire.Cache</c>).</summary>
public sealed class CacheMetrics
{
    public const string MeterName = "LlmAspire.Cache";

    private readonly Meter meter;
    private readonly Counter<long> lookups;
    private readonly Counter<long> stores;
    private readonly Counter<long> coalesced;
    private readonly Counter<long> redisFailures;

    public CacheMetrics(IMeterFactory meterFactory)
    {
        meter = meterFactory.Create(MeterName);
        lookups = meter.CreateCounter<long>("llmaspire.cache.requests", "{request}", "Inference requests by cache outcome (result = hit, miss, bypass; reason for bypasses).");
        stores = meter.CreateCounter<long>("llmaspire.cache.stores", "{entry}", "Answers offered to the cache (result = stored, too_large, not_cacheable, failed).");
        coalesced = meter.CreateCounter<long>("llmaspire.cache.coalesced", "{request}", "Requests that waited for an identical request already in flight instead of calling the model.");
        redisFailures = meter.CreateCounter<long>("llmaspire.redis.unavailable", "{operation}", "Redis operations skipped or failed because Redis was unreachable; the gateway served without it.");
    }

    public void Lookup(string model, string result, string? reason = null) => lookups.Add(1,
        new KeyValuePair<string, object?>("gen_ai.request.model", model),
        new KeyValuePair<string, object?>("result", result),
        new KeyValuePair<string, object?>("reason", reason));

    public void Stored(string model, string result) => stores.Add(1,
        new KeyValuePair<string, object?>("gen_ai.request.model", model),
        new KeyValuePair<string, object?>("result", result));

    public void Coalesced(string model) => coalesced.Add(1, new KeyValuePair<string, object?>("gen_ai.request.model", model));

    public void RedisUnavailable(string operation) => redisFailures.Add(1, new KeyValuePair<string, object?>("operation", operation));

    /// <summary>Publishes 1 while Redis is reachable, 0 while the gateway runs without it.</summary>
    public void ObserveRedis(Func<bool> available) =>
        meter.CreateObservableGauge("llmaspire.redis.available", () => available() ? 1 : 0, "{state}", "1 while Redis is reachable, 0 while the gateway serves without it.");
}
