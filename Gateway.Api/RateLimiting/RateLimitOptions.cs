using System.ComponentModel.DataAnnotations;
using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.RateLimiting;

/// <summary>
/// The <c>Gateway:RateLimits</c> section: limits for keys created without their own. 0 means unlimited; a key's own
/// value (also 0 for unlimited) always wins.
/// </summary>
internal sealed class RateLimitOptions
{
    public const string SectionName = "Gateway:RateLimits";

    [Range(0, 100_000_000)]
    public long DefaultRequestsPerMinute { get; set; }

    [Range(0, 10_000_000_000)]
    public long DefaultTokensPerMinute { get; set; }

    [Range(0, 1_000_000_000_000)]
    public long DefaultMonthlyTokenBudget { get; set; }

    public KeyLimits For(CallerIdentity caller) => new(
        caller.RequestsPerMinute ?? DefaultRequestsPerMinute,
        caller.TokensPerMinute ?? DefaultTokensPerMinute,
        caller.MonthlyTokenBudget ?? DefaultMonthlyTokenBudget);
}

/// <summary>The limits in force for one key; 0 is unlimited.</summary>
internal readonly record struct KeyLimits(long RequestsPerMinute, long TokensPerMinute, long MonthlyTokenBudget)
{
    public bool Unlimited => RequestsPerMinute == 0 && TokensPerMinute == 0 && MonthlyTokenBudget == 0;
}
