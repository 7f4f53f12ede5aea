namespace LlmAspire.Gateway.Api.Configuration;

/// <summary>
/// Whether the gateway works with ModelManager: it does when service discovery knows ModelManager as
/// <see cref="ServiceName"/> (<c>services:modelmanager</c>, Aspire's convention); without that entry every model is
/// served at a fixed endpoint. Routing, the options' validation and model lifecycle all ask.
/// </summary>
internal static class ModelManagerDiscovery
{
    /// <summary>The service-discovery name, whose configuration section turns the integration on.</summary>
    public const string ServiceName = "modelmanager";

    public static bool IsConfigured(IConfiguration configuration) => configuration.GetSection($"services:{ServiceName}").Exists();
}
