namespace LlmAspire.Gateway.Api.Caching;

internal static class CachingExtensions
{
    /// <summary>Registers the response cache (Redis, when <c>ConnectionStrings:cache</c> is set) and its step on the request path.</summary>
    public static IHostApplicationBuilder AddInferenceCache(this IHostApplicationBuilder builder)
    {
        builder.AddResponseCache();
        builder.Services.AddSingleton<InferenceCache>();
        return builder;
    }
}
