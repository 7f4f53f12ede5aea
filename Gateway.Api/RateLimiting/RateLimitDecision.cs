using System.Globalization;

namespace LlmAspire.Gateway.Api.RateLimiting;

internal enum RateLimitVerdict
{
    Allowed,
    RequestsExceeded,
    TokensExceeded,
    BudgetExhausted,
}

/// <summary>The outcome of a limit check and the numbers behind OpenAI's <c>x-ratelimit-*</c> headers.</summary>
internal readonly record struct RateLimitDecision(
    RateLimitVerdict Verdict,
    KeyLimits Limits,
    long RequestsUsed,
    TimeSpan RequestsReset,
    long TokensUsed,
    TimeSpan TokensReset,
    long BudgetUsed,
    TimeSpan BudgetReset)
{
    /// <summary>How long the caller should wait before the limit that refused it lets a request through.</summary>
    public TimeSpan RetryAfter => Verdict switch
    {
        RateLimitVerdict.RequestsExceeded => RequestsReset,
        RateLimitVerdict.TokensExceeded => TokensReset,
        RateLimitVerdict.BudgetExhausted => BudgetReset,
        _ => TimeSpan.Zero,
    };

    public void WriteHeaders(IHeaderDictionary headers)
    {
        if (Limits.RequestsPerMinute > 0)
        {
            headers["x-ratelimit-limit-requests"] = Number(Limits.RequestsPerMinute);
            headers["x-ratelimit-remaining-requests"] = Number(Math.Max(0, Limits.RequestsPerMinute - RequestsUsed));
            headers["x-ratelimit-reset-requests"] = Duration(RequestsReset);
        }

        if (Limits.TokensPerMinute > 0)
        {
            headers["x-ratelimit-limit-tokens"] = Number(Limits.TokensPerMinute);
            headers["x-ratelimit-remaining-tokens"] = Number(Math.Max(0, Limits.TokensPerMinute - TokensUsed));
            headers["x-ratelimit-reset-tokens"] = Duration(TokensReset);
        }
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>OpenAI's duration style: <c>20ms</c>, <c>1.5s</c>, <c>6m0s</c>.</summary>
    internal static string Duration(TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1))
        {
            return $"{Math.Max(0, (int)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture)}ms";
        }

        if (value < TimeSpan.FromMinutes(1))
        {
            return $"{Math.Round(value.TotalSeconds, 3).ToString(CultureInfo.InvariantCulture)}s";
        }

        return $"{((long)value.TotalMinutes).ToString(CultureInfo.InvariantCulture)}m{value.Seconds.ToString(CultureInfo.InvariantCulture)}s";
    }
}
