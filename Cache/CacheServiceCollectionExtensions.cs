using LlmAspire.Cache;

namespace Microsoft.Extensions.DependencyInjection;

public static class CacheServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Redis connection (<c>ConnectionStrings:cache</c>; absent means no Redis) and the response cache
    /// with its validated <c>Gateway:Cache</c> options.
    /// </summary>
    public static IServiceCollection AddResponseCache(this IServiceCollection services)
    {
        services.AddValidatedOptions<ResponseCacheOptions>(ResponseCacheOptions.SectionName);
        services.AddSingleton<CacheMetrics>();
        services.AddSingleton<RedisConnection>();
        services.AddHostedService(provider => provider.GetRequiredService<RedisConnection>());
        services.AddSingleton<ResponseCache>();
        return services;
    }
}
