using System.Collections.Concurrent;
using LlmAspire.Cache;
using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Authentication;

public enum AuthenticationOutcome
{
    Valid,
    Invalid,
    Unavailable,
}

/// <summary>
/// Checks presented API keys against <c>api_keys</c>, keeping what it read for <see cref="AuthOptions.KeyCacheTtl"/>
/// so that a busy key costs one query per TTL rather than one per request. Concurrent misses for one key share a
/// single query. Revocation reaches this replica at once (<see cref="Forget"/>) and every other within one TTL.
/// </summary>
/// <remarks>
/// <c>HybridCache</c> would give the TTL and the single flight, but not the behaviour that matters during a database
/// outage: answering with the last entry read (up to <see cref="AuthOptions.KeyCacheMaxStale"/>) when the refresh
/// fails, so the ledger's spool is not the only part of the gateway that rides out a PostgreSQL restart.
/// </remarks>
public sealed class ApiKeyAuthenticator(ApiKeyStore store, IOptions<AuthOptions> options, TimeProvider timeProvider)
{
    // Unknown ids are cached too (as null), so random keys do not each cost a query; the bound keeps that from
    // becoming a memory leak.
    private const int MaxCachedKeys = 100_000;

    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);
    private readonly SingleFlight<string, Entry> lookups = new();

    public async ValueTask<(AuthenticationOutcome Outcome, CallerIdentity? Caller)> AuthenticateAsync(string presented, CancellationToken cancellationToken)
    {
        if (!ApiKeyFormat.TryParse(presented, out var id, out _))
        {
            return (AuthenticationOutcome.Invalid, null);
        }

        var entry = await GetAsync(id, cancellationToken);
        if (entry is null)
        {
            return (AuthenticationOutcome.Unavailable, null);
        }

        ApiKeyFormat.TryParse(presented, out _, out var secret);
        return entry.Key is { RevokedAt: null } key && ApiKeyFormat.Matches(secret, key.SecretHash)
            ? (AuthenticationOutcome.Valid, CallerIdentity.From(key))
            : (AuthenticationOutcome.Invalid, null);
    }

    /// <summary>Drops what this replica knows about a key (after revoking it here).</summary>
    public void Forget(string id) => entries.TryRemove(id, out _);

    /// <summary>The key's current row, a stale one when PostgreSQL is unreachable, or null when neither can be had.</summary>
    private async ValueTask<Entry?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        entries.TryGetValue(id, out var known);
        if (known is not null && timeProvider.GetTimestamp() < known.RefreshAt)
        {
            return known;
        }

        try
        {
            // The query is shared by every caller waiting for this key, so it is not cancelled by any one of them.
            var fresh = await lookups.RunAsync(id, async () => Read(await store.FindAsync(id, CancellationToken.None)), cancellationToken);
            if (entries.Count >= MaxCachedKeys)
            {
                entries.Clear();
            }

            entries[id] = fresh;
            return fresh;
        }
        catch (Exception exception) when (GatewayDatabase.IsUnavailable(exception))
        {
            if (known is null || timeProvider.GetElapsedTime(known.ReadAt) >= settings.KeyCacheMaxStale)
            {
                return null;
            }

            // Ask again one TTL from now, not on every request: an unreachable database may take seconds to say so.
            entries[id] = known with { RefreshAt = RefreshTime() };
            return known;
        }
    }

    private Entry Read(ApiKeyRecord? key) => new(key, timeProvider.GetTimestamp(), RefreshTime());

    private long RefreshTime() => timeProvider.GetTimestamp() + (long)(options.Value.KeyCacheTtl.TotalSeconds * timeProvider.TimestampFrequency);

    /// <summary>A key's row (null: no such key) as read at <c>ReadAt</c>, trusted until <c>RefreshAt</c>.</summary>
    private sealed record Entry(ApiKeyRecord? Key, long ReadAt, long RefreshAt);
}
