using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Configuration;

internal static class ConfigurationExtensions
{
    /// <summary>
    /// Registers the <c>Gateway</c> section, validated value by value and across keys when the host starts, and again
    /// whenever the configuration reloads (the routing table follows <c>Gateway:Models</c> without a restart).
    /// </summary>
    public static IServiceCollection AddGatewayOptions(this IServiceCollection services)
    {
        services.AddValidatedOptions<GatewayOptions>(GatewayOptions.SectionName);
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton<IOptionsChangeTokenSource<GatewayOptions>>(sp =>
            new ConfigurationChangeTokenSource<GatewayOptions>(sp.GetRequiredService<IConfiguration>().GetSection(GatewayOptions.SectionName)));
        return services;
    }
}
