namespace LlmAspire.Gateway.Api.Shutdown;

internal static class ShutdownExtensions
{
    /// <summary>Registers the graceful shutdown and gives the host a shutdown timeout that outlasts its grace period.</summary>
    public static IServiceCollection AddGracefulShutdown(this IServiceCollection services)
    {
        services.AddSingleton<GatewayShutdown>();
        services.AddOptions<HostOptions>().Configure<IConfiguration>((host, configuration) => host.ShutdownTimeout = GatewayShutdown.HostTimeout(configuration));
        return services;
    }
}
