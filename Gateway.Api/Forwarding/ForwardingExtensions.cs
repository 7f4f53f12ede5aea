namespace LlmAspire.Gateway.Api.Forwarding;

internal static class ForwardingExtensions
{
    /// <summary>Registers the forwarding layer: YARP's forwarder, the one pooled upstream client, its policies, telemetry and start-up warm-up.</summary>
    public static IServiceCollection AddForwarding(this IServiceCollection services)
    {
        services.AddHttpForwarder();
        services.AddSingleton<UpstreamMetrics>();
        services.AddSingleton<UpstreamDeadlines>();
        services.AddSingleton<UpstreamHttpClient>();
        services.AddSingleton<UpstreamTransformer>();
        services.AddSingleton<StartedResponseForwarder>();
        services.AddSingleton<UpstreamForwarder>();
        // Hosted services start before the server listens: the warm-up is over before the first request arrives.
        services.AddHostedService<ForwardingWarmup>();
        return services;
    }
}
