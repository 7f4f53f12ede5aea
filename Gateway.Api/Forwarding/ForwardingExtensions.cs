namespace LlmAspire.Gateway.Api.Forwarding;

internal static class ForwardingExtensions
{
    /// <summary>Registers the forwarding layer: YARP's forwarder, the one pooled upstream client, its policies and telemetry.</summary>
    public static IServiceCollection AddForwarding(this IServiceCollection services)
    {
        services.AddHttpForwarder();
        services.AddSingleton<UpstreamMetrics>();
        services.AddSingleton<UpstreamHttpClient>();
        services.AddSingleton<UpstreamTransformer>();
        services.AddSingleton<StartedResponseForwarder>();
        services.AddSingleton<UpstreamForwarder>();
        return services;
    }
}
