using System.Globalization;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.RateLimiting;

/// <summary>
/// Applies the caller's key limits to inference requests: one check before the request is read, OpenAI's
/// <c>x-ratelimit-*</c> headers on the answer, <c>429</c> with <c>Retry-After</c> when a limit is reached, and the
/// tokens used charged once the request ends (answers served from the cache cost no model time and are not charged).
/// </summary>
internal sealed class RateLimitMiddleware(RequestDelegate next, KeyRateLimiter limiter, IOptions<RateLimitOptions> options)
{
    // Not async for a request no limit applies to: no state machine and no extra continuation.
    public Task InvokeAsync(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<InferenceEndpointMetadata>() is null
        || RequestState.Of(context).Caller is not { KeyId: { } keyId } caller
        || options.Value.For(caller) is not { Unlimited: false } limits
            ? next(context)
            : LimitAsync(context, keyId, limits);

    private async Task LimitAsync(HttpContext context, string keyId, KeyLimits limits)
    {
        var decision = await limiter.CheckAsync(keyId, limits);
        context.Response.OnStarting(() =>
        {
            decision.WriteHeaders(context.Response.Headers);
            return Task.CompletedTask;
        });

        if (decision.Verdict != RateLimitVerdict.Allowed)
        {
            await Reject(context, decision);
            return;
        }

        try
        {
            await next(context);
        }
        finally
        {
            var state = RequestState.Of(context);
            if (!state.Cached && state.Usage is { } usage)
            {
                await limiter.ChargeAsync(keyId, limits, usage.InputTokens + usage.OutputTokens);
            }
        }
    }

    private static Task Reject(HttpContext context, RateLimitDecision decision)
    {
        var wait = OpenAiError.RetryAfterSeconds(decision.RetryAfter).ToString(CultureInfo.InvariantCulture);
        var limits = decision.Limits;
        var error = decision.Verdict switch
        {
            RateLimitVerdict.BudgetExhausted => new OpenAiError(StatusCodes.Status429TooManyRequests,
                $"You exceeded your monthly token budget ({limits.MonthlyTokenBudget} tokens, {decision.BudgetUsed} used). It renews at the start of next month (UTC).",
                "insufficient_quota", null, "insufficient_quota"),
            RateLimitVerdict.TokensExceeded => new OpenAiError(StatusCodes.Status429TooManyRequests,
                $"Rate limit reached for tokens per minute: limit {limits.TokensPerMinute}, used {decision.TokensUsed}. Please try again in {wait}s.",
                "rate_limit_error", null, "rate_limit_exceeded"),
            _ => new OpenAiError(StatusCodes.Status429TooManyRequests,
                $"Rate limit reached for requests per minute: limit {limits.RequestsPerMinute}, used {decision.RequestsUsed}. Please try again in {wait}s.",
                "rate_limit_error", null, "rate_limit_exceeded"),
        };
        return error.WriteAsync(context.Response, decision.RetryAfter);
    }
}
