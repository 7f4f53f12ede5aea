using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using LlmAspire.Cache;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Authentication;

internal enum AuthenticationOutcome
{
    Valid,
    Invalid,
    Unavailable,

    /// <summary>A key this replica has not seen could not be looked up: too many such lookups right now.</summary>
    Throttled,
}

/// <summary>
/// Checks presented API keys against <c>api_keys</c>, keeping what it read for <see cref="AuthOptions.KeyCacheTtl"/>
/// so that a busy key costs one query per TTL rather than one per request. Concurrent misses for one key share a
/// single query, which gets <see cref="AuthOptions.KeyLookupTimeout"/>: a hung database is then treated like an
/// unreachable one. Revocation reaches this replica at once (<see cref="Forget"/>) and every other within one TTL.
/// </summary>
/// <remarks>
/// Keys that exist and ids that do not are kept apart, so a flood of made-up keys can never push out the keys callers
/// use (which keep working from the last row read while PostgreSQL is away). Ids that do not exist are remembered
/// for one TTL, in a bounded set, and ids this replica has not seen are looked up at no more than
/// <see cref="AuthOptions.NewKeyLookupsPerSecond"/>: the database sees a bounded load however many keys are made up.
/// <c>HybridCache</c> would give the TTL and the single flight, but not answering with the last row read (up to
/// <see cref="AuthOptions.KeyCacheMaxStale"/>) when the refresh fails.
/// </remarks>
internal sealed class ApiKeyAuthenticator
{
    // Ids found not to exist, remembered so that repeating one costs no query; cleared whole when full (new lookups
    // stay bounded by the rate limit, and no key that exists is ever among them).
    private const int MaxUnknownIds = 10_000;

    private readonly ApiKeyStore store;
    private readonly IOptions<AuthOptions> options;
    private readonly TimeProvider timeProvider;
    private readonly ConcurrentDictionary<string, Entry> keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> unknownUntil = new(StringComparer.Ordinal);
    private readonly SingleFlight<string, ApiKeyRecord?> lookups = new();
    private readonly TokenBucketRateLimiter newKeyLookups;
    private readonly Counter<long> lookupCounter;

    public ApiKeyAuthenticator(ApiKeyStore store, IOptions<AuthOptions> options, TimeProvider timeProvider, IMeterFactory meterFactory)
    {
        this.store = store;
        this.options = options;
        this.timeProvider = timeProvider;
        var perSecond = options.Value.NewKeyLookupsPerSecond;
        newKeyLookups = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = perSecond,
            TokensPerPeriod = Math.Max(1, perSecond / 10),
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
            QueueLimit = 0,
            // Replenished on use instead of by a timer: most of the time no new key is looked up at all.
            AutoReplenishment = false,
        });
        lookupCounter = meterFactory.Create("LlmAspire.Gateway.Auth").CreateCounter<long>("llmaspire.auth.key_lookups", "{lookup}",
            "API key lookups by result: found, not_found, failed (PostgreSQL unreachable or slower than KeyLookupTimeout), throttled.");
    }

    public async ValueTask<(AuthenticationOutcome Outcome, CallerIdentity? Caller)> AuthenticateAsync(string presented, CancellationToken cancellationToken)
    {
        if (!ApiKeyFormat.TryParse(presented, out var id, out _))
        {
            return (AuthenticationOutcome.Invalid, null);
        }

        var (outcome, key) = await GetAsync(id, cancellationToken);
        if (outcome != AuthenticationOutcome.Valid)
        {
            return (outcome, null);
        }

        ApiKeyFormat.TryParse(presented, out _, out var secret);
        return key is { RevokedAt: null } && ApiKeyFormat.Matches(secret, key.SecretHash)
            ? (AuthenticationOutcome.Valid, key.ToCaller())
            : (AuthenticationOutcome.Invalid, null);
    }

    /// <summary>Drops what this replica knows about a key (after revoking it here).</summary>
    public void Forget(string id) => keys.TryRemove(id, out _);

    /// <summary>The key's row (Valid, to be checked against the secret), Invalid when there is no such key, or why it cannot be known.</summary>
    private async ValueTask<(AuthenticationOutcome Outcome, ApiKeyRecord? Key)> GetAsync(string id, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetTimestamp();
        keys.TryGetValue(id, out var known);
        if (known is not null && now < known.RefreshAt)
        {
            return (AuthenticationOutcome.Valid, known.Key);
        }

        if (known is null && unknownUntil.TryGetValue(id, out var until) && now < until)
        {
            return (AuthenticationOutcome.Invalid, null);
        }

        if (known is null && !TryStartNewKeyLookup())
        {
            lookupCounter.Add(1, Result("throttled"));
            return (AuthenticationOutcome.Throttled, null);
        }

        var settings = options.Value;
        try
        {
            // The query is shared by every caller waiting for this key, so it is not cancelled by any one of them.
            var key = await lookups.RunAsync(id, () => FindAsync(id, settings.KeyLookupTimeout), CancellationToken.None)
                .WaitAsync(settings.KeyLookupTimeout, timeProvider, cancellationToken);
            lookupCounter.Add(1, Result(key is null ? "not_found" : "found"));
            Remember(id, key);
            return (key is null ? AuthenticationOutcome.Invalid : AuthenticationOutcome.Valid, key);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested
            && (GatewayDatabase.IsUnavailable(exception) || exception is OperationCanceledException))
        {
            lookupCounter.Add(1, Result("failed"));
            if (known is null || timeProvider.GetElapsedTime(known.ReadAt) >= settings.KeyCacheMaxStale)
            {
                return (AuthenticationOutcome.Unavailable, null);
            }

            // Ask again one TTL from now, not on every request: an unreachable database may take seconds to say so.
            keys[id] = known with { RefreshAt = RefreshTime() };
            return (AuthenticationOutcome.Valid, known.Key);
        }
    }

    private async Task<ApiKeyRecord?> FindAsync(string id, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout, timeProvider);
        return await store.FindAsync(id, deadline.Token);
    }

    private bool TryStartNewKeyLookup()
    {
        newKeyLookups.TryReplenish();
        using var lease = newKeyLookups.AttemptAcquire();
        return lease.IsAcquired;
    }

    private void Remember(string id, ApiKeyRecord? key)
    {
        if (key is not null)
        {
            keys[id] = new Entry(key, timeProvider.GetTimestamp(), RefreshTime());
            unknownUntil.TryRemove(id, out _);
            return;
        }

        // A key deleted from the table is unknown from now on.
        keys.TryRemove(id, out _);
        if (unknownUntil.Count >= MaxUnknownIds)
        {
            unknownUntil.Clear();
        }

        unknownUntil[id] = RefreshTime();
    }

    private long RefreshTime() => timeProvider.GetTimestamp() + (long)(options.Value.KeyCacheTtl.TotalSeconds * timeProvider.TimestampFrequency);

    private static KeyValuePair<string, object?> Result(string result) => new("result", result);

    /// <summary>A key's row as read at <c>ReadAt</c>, trusted until <c>RefreshAt</c>.</summary>
    private sealed record Entry(ApiKeyRecord Key, long ReadAt, long RefreshAt);
}
