using LlmAspire.ModelManager.Api;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Lifecycle;
using LlmAspire.ModelManager.Runtimes;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmAspire.ModelManager;

/// <summary>The service's composition, shared by <c>Program.cs</c> and the tests that host it in-process.</summary>
public static class ModelManagerApplication
{
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults();
        builder.AddModelManager();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapModelsApi();
        return app;
    }

    public static IHostApplicationBuilder AddModelManager(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<ModelManagerOptions>(ModelManagerOptions.SectionName);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IModelServerRuntime, ProcessRuntime>();
        services.AddSingleton<ReadinessProbe>();
        services.AddSingleton<ActivityTracker>();
        services.AddSingleton<ModelFleet>();
        services.AddHostedService<IdleReaper>();
        services.AddHostedService<FleetShutdown>();
        return builder;
    }
}
