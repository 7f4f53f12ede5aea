using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmAspire.Cache;

/// <summary>
/// Stored answers in Redis, one string per canonical request key with the model's TTL, plus the in-process flights
/// that make concurrent identical misses wait for one model call.
/// </summary>
/// <remarks>
/// <c>Microsoft.Extensions.Caching.Hybrid</c> was evaluated first and not used for answers, for three reasons.
/// Its stampede protection runs a factory that returns the value, but a cache miss here is a live response: the
/// leader's answer streams to its own client chunk by chunk and only becomes a value when the stream ends, so a
/// factory would either buffer the leader's stream (adding the whole generation to its time to first token) or tie
/// a shared factory to one client's connection. It handles a failing distributed cache by logging and carrying on,
/// with no signal the gateway can turn into <c>x-cache: bypass</c>, a metric, or per-replica rate limits. And its
/// in-memory tier would keep serving entries on each replica after they are gone from Redis. What it would save —
/// serialisation and a key-to-task map — is <see cref="SingleFlight{TKey, TValue}"/> and a GET/SET here.
/// </remarks>
public sealed class ResponseCache(RedisConnection redis, IOptions<ResponseCacheOptions> options)
{
    public bool IsConfigured => redis.IsConfigured && options.Value.Enabled;

    public SingleFlight<string, byte[]?> Flights { get; } = new();

    public ModelCachePolicy PolicyFor(string model) => options.Value.For(model);

    /// <summary><c>Available</c> is false when Redis could not be asked; <c>Entry</c> is null on a miss.</summary>
    public async ValueTask<(bool Available, byte[]? Entry)> GetAsync(string key)
    {
        var (ok, value) = await redis.TryAsync("cache_get", database => database.StringGetAsync(key));
        return (ok, ok && value.HasValue ? (byte[]?)value : null);
    }

    public async ValueTask<bool> SetAsync(string key, byte[] entry, TimeSpan ttl)
    {
        var (ok, _) = await redis.TryAsync("cache_set", database => database.StringSetAsync(key, entry, ttl));
        return ok;
    }
}
