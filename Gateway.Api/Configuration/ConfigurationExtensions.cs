using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Configuration;

internal static class ConfigurationExtensions
{
    /// <summary>
    /// Registers the <c>Gateway</c> section, validated value by value and across keys when the host starts (and by the
    /// routing table again whenever the configuration reloads).
    /// </summary>
    public static IServiceCollection AddGatewayOptions(this IServiceCollection services)
    {
        services.AddValidatedOptions<GatewayOptions>(GatewayOptions.SectionName);
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        return services;
    }
}
