namespace LlmAspire.Gateway.Api.RateLimiting;

internal static class RateLimitingExtensions
{
    /// <summary>Registers per-key limits (Redis when <c>ConnectionStrings:cache</c> is set and reachable, per replica otherwise).</summary>
    public static IHostApplicationBuilder AddKeyRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<RateLimitOptions>(RateLimitOptions.SectionName);
        builder.Services.AddSingleton<KeyRateLimiter>();
        return builder;
    }

    /// <summary>Enforces the caller's limits on inference requests; must run after authentication.</summary>
    public static IApplicationBuilder UseKeyRateLimits(this IApplicationBuilder app) => app.UseMiddleware<RateLimitMiddleware>();
}
