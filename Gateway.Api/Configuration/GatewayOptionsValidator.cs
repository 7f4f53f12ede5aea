using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Configuration;

/// <summary>Rules that span several keys; single values are checked by <c>AddValidatedOptions</c>.</summary>
internal sealed class GatewayOptionsValidator(IConfiguration configuration) : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var errors = new List<string>();
        var managerConfigured = ModelManagerDiscovery.IsConfigured(configuration);
        foreach (var (id, model) in options.Models)
        {
            var prefix = $"{GatewayOptions.SectionName}:Models:{id}";
            if (model.Endpoint is null && !managerConfigured)
            {
                errors.Add($"{prefix}:Endpoint is required: without ModelManager (services:{ModelManagerDiscovery.ServiceName}:http:0) every model needs a fixed endpoint.");
            }

            if (model.Endpoint is { } endpoint && endpoint.Scheme is not ("http" or "https"))
            {
                errors.Add($"{prefix}:Endpoint = '{endpoint.OriginalString}' must be an http:// or https:// URL.");
            }

            if (model.WhitespaceKeepAlive && model.Endpoint is not null)
            {
                // A model at a fixed endpoint never loads on demand, so the setting would silently do nothing.
                errors.Add($"{prefix}:WhitespaceKeepAlive = 'true' applies only to a model ModelManager starts, one without {prefix}:Endpoint.");
            }

            if (model.FirstByteTimeout > model.RequestTimeout)
            {
                errors.Add($"{prefix}:FirstByteTimeout = '{model.FirstByteTimeout}' is longer than {prefix}:RequestTimeout = '{model.RequestTimeout}'; it must not exceed it.");
            }

            if (model.StreamIdleTimeout > model.RequestTimeout)
            {
                errors.Add($"{prefix}:StreamIdleTimeout = '{model.StreamIdleTimeout}' is longer than {prefix}:RequestTimeout = '{model.RequestTimeout}'; it must not exceed it.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
