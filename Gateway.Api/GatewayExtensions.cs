using LlmAspire.Gateway.Api.Admin;
using LlmAspire.Gateway.Api.Admission;
using LlmAspire.Gateway.Api.Authentication;
using LlmAspire.Gateway.Api.Caching;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Forwarding;
using LlmAspire.Gateway.Api.Inference;
using LlmAspire.Gateway.Api.Ledger;
using LlmAspire.Gateway.Api.ModelLifecycle;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.RateLimiting;
using LlmAspire.Gateway.Api.Routing;
using LlmAspire.Gateway.Api.Shutdown;
using LlmAspire.Gateway.Api.Telemetry;
using LlmAspire.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmAspire.Gateway.Api;

internal static class GatewayExtensions
{
    /// <summary>
    /// Registers the gateway's data plane (validated options, routing, admission, forwarding, telemetry) and what
    /// knows callers and their usage: PostgreSQL storage, API keys, per-key limits, the usage ledger, the response cache.
    /// </summary>
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddGatewayOptions();
        services.AddGracefulShutdown();
        services.AddErrorResponses((status, message, code) => OpenAiError.Of(status, message, code).ToJson());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<GatewayMetrics>();
        services.AddModelRoutes();
        builder.AddModelLifecycle();
        services.AddSingleton<AdmissionQueues>();
        services.AddForwarding();
        services.AddInferenceApi();

        builder.AddPostgresStorage(optionsSection: "Gateway:Storage");
        builder.AddApiKeys();
        builder.AddKeyRateLimits();
        builder.AddUsageLedger();
        builder.AddInferenceCache();
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
