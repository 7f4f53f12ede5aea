using LlmAspire.Gateway.Api.Configuration;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

/// <summary>ModelManager's API starts and stops GPU workloads and needs its token: configuring the service without one is a mistake.</summary>
internal sealed class ModelManagerClientOptionsValidator(IConfiguration configuration) : IValidateOptions<ModelManagerClientOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelManagerClientOptions options) =>
        ModelManagerDiscovery.IsConfigured(configuration) && string.IsNullOrWhiteSpace(options.ApiToken)
            ? ValidateOptionsResult.Fail(
                $"{ModelManagerClientOptions.SectionName}:ApiToken (environment Gateway__ModelManager__ApiToken) is required when ModelManager is configured (services:{ModelManagerDiscovery.ServiceName}); set it to ModelManager's ModelManager:ApiToken.")
            : ValidateOptionsResult.Success;
}
