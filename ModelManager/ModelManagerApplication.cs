using System.Text.Json;
using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Api;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Lifecycle;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Runtimes.Docker;
using LlmAspire.ModelManager.Runtimes.Process;
using LlmAspire.ModelManager.Telemetry;
using LlmAspire.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager;

/// <summary>The service's composition, shared by <c>Program.cs</c> and the tests that host it in-process.</summary>
internal static class ModelManagerApplication
{
    /// <param name="args">Command line; configuration keys as <c>--ModelManager:Models:&lt;id&gt;:Image value</c>.</param>
    /// <param name="configureServices">Registrations made before the service's own, which they take precedence over (tests).</param>
    public static WebApplication Create(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configureServices?.Invoke(builder.Services);
        builder.AddServiceDefaults();
        builder.AddModelManager();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapModelsApi();
        return app;
    }

    /// <summary>
    /// Registers the catalog (validated options), both runtimes, the lifecycle (fleet, idle reaper, adoption at start),
    /// activity tracking, lifecycle events and metrics. With <c>ConnectionStrings:gatewaydb</c>, the database is migrated
    /// at start-up and lifecycle events are also written to it. Services registered before this call win (tests swap
    /// the time provider or a runtime that way: the first runtime registered for a <see cref="RuntimeKind"/> is used).
    /// </summary>
    public static IHostApplicationBuilder AddModelManager(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddErrorResponses((status, message, code) =>
            JsonSerializer.SerializeToUtf8Bytes(ApiErrorResult.Body(status, message, code), ModelManagerJsonContext.Default.ApiError));
        services.AddValidatedOptions<ModelManagerOptions>(ModelManagerOptions.SectionName);
        services.AddSingleton<IValidateOptions<ModelManagerOptions>, ModelManagerOptionsValidator>();
        services.AddValidatedOptions<LifecycleEventStorageOptions>(LifecycleEventStorageOptions.SectionName);
        // First: hosted services start in registration order, so the schema is in place before any event is written.
        builder.AddPostgresStorage(optionsSection: "ModelManager:Storage");

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IModelServerRuntime, ProcessRuntime>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IModelServerRuntime, DockerRuntime>());
        services.AddSingleton<ReadinessProbe>();
        services.AddSingleton<SleepModeClient>();
        services.AddSingleton<ActivityTracker>();
        services.AddSingleton<InMemoryLifecycleEventSink>();
        if (GatewayDatabase.IsConfiguredIn(builder.Configuration))
        {
            // Registered before the fleet's hosted services, so it stops after them and stores their last events.
            services.AddSingleton<LifecycleEventStore>();
            services.AddSingleton<LifecycleEventWriter>();
            services.AddHostedService(sp => sp.GetRequiredService<LifecycleEventWriter>());
            services.TryAddSingleton<ILifecycleEventSink>(sp => sp.GetRequiredService<LifecycleEventWriter>());
        }
        else
        {
            services.TryAddSingleton<ILifecycleEventSink>(sp => sp.GetRequiredService<InMemoryLifecycleEventSink>());
        }

        services.AddSingleton<ModelManagerMetrics>();
        services.AddSingleton<ModelFleet>();
        services.AddHostedService<FleetLifecycle>();
        services.AddHostedService<IdleReaper>();
        return builder;
    }
}
