using LlmAspire.Gateway.Admin;
using LlmAspire.Gateway.Admission;
using LlmAspire.Gateway.Authentication;
using LlmAspire.Gateway.Caching;
using LlmAspire.Gateway.Configuration;
using LlmAspire.Gateway.Forwarding;
using LlmAspire.Gateway.Inference;
using LlmAspire.Gateway.Ledger;
using LlmAspire.Gateway.ModelLifecycle;
using LlmAspire.Gateway.Models;
using LlmAspire.Gateway.OpenAi;
using LlmAspire.Gateway.RateLimiting;
using LlmAspire.Gateway.Shutdown;
using LlmAspire.Gateway.Telemetry;
using LlmAspire.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway;

public static class GatewayExtensions
{
    /// <summary>
    /// Registers the gateway's data plane (validated options, routing, admission, forwarding, telemetry) and what
    /// knows callers and their usage: PostgreSQL storage, API keys, per-key limits, the usage ledger, the response cache.
    /// </summary>
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<GatewayOptions>(GatewayOptions.SectionName);
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton<GatewayShutdown>();
        services.AddOptions<HostOptions>().Configure<IConfiguration>((host, configuration) => host.ShutdownTimeout = GatewayShutdown.HostTimeout(configuration));

        services.AddErrorResponses((status, message, code) => OpenAiError.Of(status, message, code).ToJson());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpForwarder();
        services.AddSingleton<GatewayMetrics>();
        builder.AddModelLifecycle();
        services.AddSingleton<AdmissionQueues>();
        services.AddSingleton<UpstreamHttpClient>();
        services.AddSingleton<UpstreamTransformer>();
        services.AddSingleton<StartedStreamForwarder>();
        services.AddSingleton<InferenceProxy>();

        builder.AddPostgresStorage(optionsSection: "Gateway:Storage");
        builder.AddApiKeys();
        builder.AddKeyRateLimits();
        builder.AddUsageLedger();
        builder.AddResponseCache();
        services.AddSingleton<InferenceCache>();
        return builder;
    }

    /// <summary>Maps the OpenAI-compatible API and answers anything unmatched, malformed or failed in OpenAI's error shape.</summary>
    public static WebApplication MapGateway(this WebApplication app)
    {
        app.UseErrorResponses();

        // Authenticate, then record (so the ledger also sees rate-limited requests), then limit.
        app.UseApiKeys();
        app.UseUsageLedger();
        app.UseKeyRateLimits();

        app.MapModelsApi();
        app.MapInferenceApi();
        app.MapAdminApi();
        return app;
    }
}
