using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using LlmAspire.Cache;
using StackExchange.Redis;

namespace LlmAspire.Gateway.Api.RateLimiting;

/// <summary>
/// Per-key limits shared by every gateway replica: requests per minute, tokens per minute and a monthly token budget,
/// kept in Redis and decided by one Lua script, so a check is atomic and costs one round trip. Tokens are only known
/// once a request ends; they are charged then (fire-and-forget, off the request path) and count against the next
/// requests. While Redis is unreachable each replica falls back to its own in-memory limiters with the same limits
/// (so N replicas admit up to N times the rate) and its last known budget figure.
/// </summary>
internal sealed class KeyRateLimiter(RedisConnection redis, TimeProvider timeProvider)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    // Reads the three counters, refuses by the first exhausted limit (budget, requests, tokens), and otherwise counts
    // the request. Returns {verdict, requests, tokens, budget, requests reset ms, tokens reset ms}.
    private const string CheckScript = """
        local requests = tonumber(redis.call('GET', KEYS[1]) or '0')
        local tokens = tonumber(redis.call('GET', KEYS[2]) or '0')
        local spent = tonumber(redis.call('GET', KEYS[3]) or '0')
        local rpm, tpm, budget, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local verdict = 0
        if budget > 0 and spent >= budget then verdict = 3
        elseif rpm > 0 and requests >= rpm then verdict = 1
        elseif tpm > 0 and tokens >= tpm then verdict = 2
        else
          requests = redis.call('INCR', KEYS[1])
          if requests == 1 then redis.call('PEXPIRE', KEYS[1], window) end
        end
        local requestsReset = redis.call('PTTL', KEYS[1])
        local tokensReset = redis.call('PTTL', KEYS[2])
        if requestsReset < 0 then requestsReset = window end
        if tokensReset < 0 then tokensReset = window end
        return {verdict, requests, tokens, spent, requestsReset, tokensReset}
        """;

    private const string ChargeScript = """
        redis.call('INCRBY', KEYS[1], ARGV[1])
        if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        redis.call('INCRBY', KEYS[2], ARGV[1])
        if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
        return 0
        """;

    private readonly ConcurrentDictionary<string, LocalLimits> local = new(StringComparer.Ordinal);

    public async ValueTask<RateLimitDecision> CheckAsync(string keyId, KeyLimits limits)
    {
        var month = Month();
        var keys = Keys(keyId, month);
        var (ok, result) = await redis.TryAsync("rate_limit", database => database.ScriptEvaluateAsync(CheckScript,
            [keys.Requests, keys.Tokens, keys.Budget],
            [limits.RequestsPerMinute, limits.TokensPerMinute, limits.MonthlyTokenBudget, (long)Window.TotalMilliseconds]));
        var budgetReset = UntilNextMonth();
        if (ok)
        {
            var values = (long[])result!;
            LocalFor(keyId, limits, month).LastKnownBudgetUsed = values[3];
            return new RateLimitDecision((RateLimitVerdict)values[0], limits, values[1], TimeSpan.FromMilliseconds(values[4]),
                values[2], TimeSpan.FromMilliseconds(values[5]), values[3], budgetReset);
        }

        return LocalFor(keyId, limits, month).Check(budgetReset);
    }

    /// <summary>Counts the tokens a finished request used against the key's per-minute and monthly totals.</summary>
    public async ValueTask ChargeAsync(string keyId, KeyLimits limits, long tokens)
    {
        if (tokens <= 0)
        {
            return;
        }

        var month = Month();
        var keys = Keys(keyId, month);
        var budgetTtl = UntilNextMonth() + TimeSpan.FromDays(1);
        var (ok, _) = await redis.TryAsync("rate_limit_charge", database => database.ScriptEvaluateAsync(ChargeScript,
            [keys.Tokens, keys.Budget],
            [tokens, (long)Window.TotalMilliseconds, (long)budgetTtl.TotalMilliseconds],
            CommandFlags.FireAndForget));
        if (!ok)
        {
            LocalFor(keyId, limits, month).Charge(tokens);
        }
    }

    private static (RedisKey Requests, RedisKey Tokens, RedisKey Budget) Keys(string keyId, string month) =>
        // The hash tag keeps a key's counters in one slot, as a script touching several keys needs on a cluster.
        ($"llmaspire:rl:{{{keyId}}}:requests", $"llmaspire:rl:{{{keyId}}}:tokens", $"llmaspire:rl:{{{keyId}}}:budget:{month}");

    private string Month() => timeProvider.GetUtcNow().ToString("yyyyMM", CultureInfo.InvariantCulture);

    private TimeSpan UntilNextMonth()
    {
        var now = timeProvider.GetUtcNow();
        return new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1) - now;
    }

    private LocalLimits LocalFor(string keyId, KeyLimits limits, string month)
    {
        var limiter = local.GetOrAdd(keyId, _ => new LocalLimits(limits, month));
        if (limiter.Limits != limits || limiter.Month != month)
        {
            // Limits changed or a new month began: start over rather than carry stale windows.
            limiter = local[keyId] = new LocalLimits(limits, month);
        }

        return limiter;
    }

    /// <summary>One replica's stand-in for a key's Redis counters, built from System.Threading.RateLimiting windows.</summary>
    private sealed class LocalLimits(KeyLimits limits, string month)
    {
        private readonly FixedWindowRateLimiter? requests = CreateWindow(limits.RequestsPerMinute);
        private readonly FixedWindowRateLimiter? tokens = CreateWindow(limits.TokensPerMinute);
        private long budgetUsedHere;

        public KeyLimits Limits { get; } = limits;

        public string Month { get; } = month;

        /// <summary>The budget figure Redis last reported; this replica's own spending is added on top while Redis is away.</summary>
        public long LastKnownBudgetUsed { get; set; }

        public RateLimitDecision Check(TimeSpan budgetReset)
        {
            Replenish();
            var budgetUsed = LastKnownBudgetUsed + Interlocked.Read(ref budgetUsedHere);
            var tokensUsed = Limits.TokensPerMinute - (tokens?.GetStatistics()?.CurrentAvailablePermits ?? Limits.TokensPerMinute);
            var verdict = RateLimitVerdict.Allowed;
            if (Limits.MonthlyTokenBudget > 0 && budgetUsed >= Limits.MonthlyTokenBudget)
            {
                verdict = RateLimitVerdict.BudgetExhausted;
            }
            else if (Limits.TokensPerMinute > 0 && tokensUsed >= Limits.TokensPerMinute)
            {
                verdict = RateLimitVerdict.TokensExceeded;
            }
            else if (requests is not null)
            {
                using var lease = requests.AttemptAcquire();
                verdict = lease.IsAcquired ? RateLimitVerdict.Allowed : RateLimitVerdict.RequestsExceeded;
            }

            var requestsUsed = Limits.RequestsPerMinute - (requests?.GetStatistics()?.CurrentAvailablePermits ?? Limits.RequestsPerMinute);
            // A fixed window does not say when it resets; a whole window is the honest upper bound.
            return new RateLimitDecision(verdict, Limits, requestsUsed, Window, tokensUsed, Window, budgetUsed, budgetReset);
        }

        public void Charge(long used)
        {
            Interlocked.Add(ref budgetUsedHere, used);
            Replenish();
            if (tokens is not null && tokens.GetStatistics()?.CurrentAvailablePermits is > 0 and var available)
            {
                tokens.AttemptAcquire((int)Math.Min(used, available)).Dispose();
            }
        }

        private static FixedWindowRateLimiter? CreateWindow(long permits) => permits <= 0 ? null : new FixedWindowRateLimiter(new FixedWindowRateLimiterOptions
        {
            PermitLimit = (int)Math.Min(permits, int.MaxValue),
            Window = KeyRateLimiter.Window,
            QueueLimit = 0,
            // Replenished on use instead of by a timer per key: most keys never need this fallback.
            AutoReplenishment = false,
        });

        private void Replenish()
        {
            requests?.TryReplenish();
            tokens?.TryReplenish();
        }
    }
}
