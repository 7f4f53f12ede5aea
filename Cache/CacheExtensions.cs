using LlmAspire.Cache;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

public static class CacheExtensions
{
    /// <summary>
    /// Registers the Redis connection (<c>ConnectionStrings:cache</c>; absent means no Redis) and the response cache
    /// with its validated <c>Gateway:Cache</c> options.
    /// </summary>
    public static IHostApplicationBuilder AddResponseCache(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<ResponseCacheOptions>(ResponseCacheOptions.SectionName);
        builder.Services.AddSingleton<CacheMetrics>();
        RedisConnection.Register(builder);
        builder.Services.AddSingleton<ResponseCache>();
        return builder;
    }
}
