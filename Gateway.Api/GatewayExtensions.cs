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
using LlmAspire.Gateway.Telemetry;
using LlmAspire.Storage;
using Microsoft.AspNetCore.Diagnostics;
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

        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpForwarder();
        services.AddSingleton<GatewayMetrics>();
        builder.AddModelLifecycle();
        services.AddSingleton<AdmissionQueues>();
        services.AddSingleton<UpstreamHttpClient>();
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

    /// <summary>Maps the OpenAI-compatible API and answers anything unmatched or failed in OpenAI's error shape.</summary>
    public static WebApplication MapGateway(this WebApplication app)
    {
        app.UseExceptionHandler(errorApp => errorApp.Run(context =>
        {
            var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            return (exception is BadHttpRequestException badRequest
                    ? new OpenAiError(badRequest.StatusCode, badRequest.Message, "invalid_request_error")
                    : new OpenAiError(StatusCodes.Status500InternalServerError, "The gateway failed to process the request.", "server_error"))
                .WriteAsync(context.Response);
        }));
        app.UseStatusCodePages(context => context.HttpContext.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => (OpenAiError.InvalidRequest($"Unknown path: {context.HttpContext.Request.Path}", code: "unknown_url")
                with { Status = StatusCodes.Status404NotFound }).WriteAsync(context.HttpContext.Response),
            StatusCodes.Status405MethodNotAllowed => (OpenAiError.InvalidRequest($"Method {context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}", code: "method_not_allowed")
                with { Status = StatusCodes.Status405MethodNotAllowed }).WriteAsync(context.HttpContext.Response),
            _ => Task.CompletedTask,
        });

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
