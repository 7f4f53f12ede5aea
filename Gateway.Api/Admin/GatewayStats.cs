namespace LlmAspire.Gateway.Admin;

/// <summary>
/// Live request figures of this replica for <c>GET /admin/stats</c>: totals since start and a sliding window of
/// one-second buckets. <see cref="Record"/> runs once per inference request on the request path, so it only adds to
/// preallocated counters with <see cref="Interlocked"/>; a bucket is cleared under a lock once per second at most.
/// </summary>
public sealed class GatewayStats
{
    public const int WindowSeconds = 60;

    private readonly TimeProvider timeProvider;
    private readonly Bucket[] buckets = new Bucket[WindowSeconds];
    private readonly Counts total = new();
    private readonly long startedSecond;

    public GatewayStats(TimeProvider timeProvider)
    {
        this.timeProvider = timeProvider;
        startedSecond = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = new Bucket();
        }
    }

    public void Record(int status, long tokens, bool cached)
    {
        var second = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var bucket = buckets[second % WindowSeconds];
        bucket.Claim(second);
        bucket.Counts.Add(status, tokens, cached);
        total.Add(status, tokens, cached);
    }

    public GatewayStatsSnapshot Snapshot()
    {
        var now = timeProvider.GetUtcNow();
        var second = now.ToUnixTimeSeconds();
        var window = new Counts();
        foreach (var bucket in buckets)
        {
            if (second - Volatile.Read(ref bucket.Second) < WindowSeconds)
            {
                window.AddAll(bucket.Counts);
            }
        }

        // A replica that started less than a window ago has not been up for the whole window: divide by its uptime.
        var seconds = Math.Clamp(second - startedSecond + 1, 1, WindowSeconds);
        return new GatewayStatsSnapshot(
            DateTimeOffset.FromUnixTimeSeconds(startedSecond),
            now,
            (int)seconds,
            Math.Round((double)window.Requests / seconds, 3),
            Math.Round((double)window.Tokens / seconds, 3),
            window.Requests == 0 ? null : Math.Round((double)window.CacheHits / window.Requests, 4),
            window.Totals(),
            total.Totals());
    }

    private sealed class Bucket
    {
        public readonly Counts Counts = new();
        public long Second = -1;
        private readonly Lock rollover = new();

        /// <summary>Makes the bucket count for <paramref name="second"/>, clearing what it held for a second a window ago.</summary>
        public void Claim(long second)
        {
            if (Volatile.Read(ref Second) == second)
            {
                return;
            }

            lock (rollover)
            {
                if (Second != second)
                {
                    Counts.Clear();
                    Volatile.Write(ref Second, second);
                }
            }
        }
    }

    private sealed class Counts
    {
        private long requests;
        private long tokens;
        private long cacheHits;
        private long tooManyRequests;
        private long serverErrors;

        public long Requests => Volatile.Read(ref requests);

        public long Tokens => Volatile.Read(ref tokens);

        public long CacheHits => Volatile.Read(ref cacheHits);

        public void Add(int status, long usedTokens, bool cached)
        {
            Interlocked.Increment(ref requests);
            if (usedTokens > 0)
            {
                Interlocked.Add(ref tokens, usedTokens);
            }

            if (cached)
            {
                Interlocked.Increment(ref cacheHits);
            }

            if (status == StatusCodes.Status429TooManyRequests)
            {
                Interlocked.Increment(ref tooManyRequests);
            }
            else if (status >= StatusCodes.Status500InternalServerError)
            {
                Interlocked.Increment(ref serverErrors);
            }
        }

        public void AddAll(Counts other)
        {
            requests += other.Requests;
            tokens += other.Tokens;
            cacheHits += other.CacheHits;
            tooManyRequests += Volatile.Read(ref other.tooManyRequests);
            serverErrors += Volatile.Read(ref other.serverErrors);
        }

        public void Clear()
        {
            Volatile.Write(ref requests, 0);
            Volatile.Write(ref tokens, 0);
            Volatile.Write(ref cacheHits, 0);
            Volatile.Write(ref tooManyRequests, 0);
            Volatile.Write(ref serverErrors, 0);
        }

        public GatewayStatsTotals Totals() => new(Requests, Tokens, CacheHits, Volatile.Read(ref tooManyRequests), Volatile.Read(ref serverErrors));
    }
}

/// <summary>The answer of <c>GET /admin/stats</c> (snake_case JSON).</summary>
/// <param name="WindowSeconds">How many seconds the rates and <paramref name="Window"/> cover (less than a minute just after start).</param>
/// <param name="CacheHitRate">Share of the window's requests answered from the cache; null without requests.</param>
public sealed record GatewayStatsSnapshot(
    DateTimeOffset StartedAt,
    DateTimeOffset At,
    int WindowSeconds,
    double RequestsPerSecond,
    double TokensPerSecond,
    double? CacheHitRate,
    GatewayStatsTotals Window,
    GatewayStatsTotals Total)
{
    public string Object => "gateway.stats";

    /// <summary>Each model's admission queue right now: requests holding a slot and requests waiting for one.</summary>
    public IReadOnlyDictionary<string, ModelAdmission> Models { get; init; } = new Dictionary<string, ModelAdmission>();
}

public sealed record ModelAdmission(long InFlight, long Queued);

/// <summary>Inference requests ended, their prompt + completion tokens, cache hits, 429 answers and 5xx answers.</summary>
public sealed record GatewayStatsTotals(long Requests, long Tokens, long CacheHits, long TooManyRequests, long ServerErrors);
