using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmAspire.AppHost.Models;

internal static class ModelManagerBuilderExtensions
{
    /// <summary>
    /// Adds ModelManager with its control-API token; the models it is given with <see cref="WithModel"/> show in the
    /// dashboard beneath it. Model servers stop with it, so stopping the AppHost leaves none running.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddModelManager<TProject>(
        this IDistributedApplicationBuilder builder, string name, IResourceBuilder<ParameterResource> apiToken)
        where TProject : IProjectMetadata, new()
    {
        if (builder.ExecutionContext.IsRunMode)
        {
            builder.Services.AddHttpClient();
            builder.Services.TryAddSingleton(TimeProvider.System);
            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, ModelFleetWatcher>());
        }

        return builder.AddProject<TProject>(name)
            .WithAnnotation(new ModelManagerApiAnnotation(apiToken.Resource))
            .WithEnvironment("ModelManager__ApiToken", apiToken)
            .WithEnvironment("ModelManager__StopModelsOnShutdown", "true")
            .WithHttpEndpoint()
            .WithHttpHealthCheck("/health")
            .WithLocalTelemetryExport();
    }

    /// <summary>
    /// Puts <paramref name="modelId"/> in ModelManager's catalog with <paramref name="settings"/> (keys of
    /// <c>ModelManager:Models:&lt;id&gt;</c>, e.g. <c>Runtime</c>, <c>Image</c>, <c>Args:0</c>) and shows it as a
    /// resource with Load and Unload commands. Only when running: a deployment configures its own catalog.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithModel(
        this IResourceBuilder<ProjectResource> modelManager, string modelId, IReadOnlyDictionary<string, string> settings)
    {
        var builder = modelManager.ApplicationBuilder;
        var prefix = $"ModelManager__Models__{modelId}__";
        modelManager.WithEnvironment(context =>
        {
            if (context.ExecutionContext.IsRunMode)
            {
                foreach (var (key, value) in settings)
                {
                    context.EnvironmentVariables[prefix + key.Replace(":", "__", StringComparison.Ordinal)] = value;
                }
            }
        });

        if (builder.ExecutionContext.IsRunMode)
        {
            AddModelResource(builder, modelManager.Resource, modelId);
        }

        return modelManager;
    }

    /// <summary>
    /// A model served by tools/VllmSimulator (built with this AppHost) as a local process: a model server for machines
    /// without a GPU, loading in 2 s like a small model, with vLLM's sleep mode: asleep after 5 idle minutes (woken in
    /// 0.2 s by the next request or Load), stopped after 15.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSimulatedModel(this IResourceBuilder<ProjectResource> modelManager, string modelId)
    {
        var simulator = typeof(ModelManagerBuilderExtensions).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(attribute => attribute.Key == "LlmAspire.SimulatorAssembly").Value!;
        string[] arguments =
        [
            Path.GetFullPath(simulator), "--urls", "http://127.0.0.1:{port}", "--model", "{model}",
            "--startup-delay-ms", "2000", "--output-tokens", "32", "--tokens-per-second", "100",
            "--enable-sleep-mode", "--wake-delay-ms", "200",
        ];
        var settings = new Dictionary<string, string>
        {
            ["Runtime"] = "Process",
            ["Command"] = "dotnet",
            ["SleepAfter"] = "00:05:00",
            ["StopAfter"] = "00:15:00",
        };
        for (var i = 0; i < arguments.Length; i++)
        {
            settings[$"Args:{i}"] = arguments[i];
        }

        return modelManager.WithModel(modelId, settings);
    }

    private static void AddModelResource(IDistributedApplicationBuilder builder, ProjectResource modelManager, string modelId)
    {
        var model = new ModelResource(ResourceName(modelId), modelId, modelManager);
        ModelManagerApi Api(ExecuteCommandContext context) => new(context.Services.GetRequiredService<IHttpClientFactory>(), modelManager);

        builder.AddResource(model)
            // Shown beneath ModelManager. Not an IResourceWithParent: that would also give it ModelManager's health checks.
            .WithParentRelationship(modelManager)
            .WithIconName("BrainCircuit")
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = ModelResource.ResourceType,
                State = ModelStates.Unknown,
                Properties = ModelSnapshotProperties.Initial(model),
            })
            .WithCommand("load", "Load", context => Api(context).LoadAsync(modelId, context.CancellationToken), new CommandOptions
            {
                Description = "Start the model's server now, before the first request needs it.",
                IconName = "Play",
                IsHighlighted = true,
                UpdateState = context => ModelStates.CanLoad(context.ResourceSnapshot.State?.Text) ? ResourceCommandState.Enabled : ResourceCommandState.Disabled,
            })
            .WithCommand("unload", "Unload", context => Api(context).UnloadAsync(modelId, context.CancellationToken), new CommandOptions
            {
                Description = "Stop the model's server and free its GPU memory (refused while requests are in flight).",
                IconName = "Stop",
                IsHighlighted = true,
                UpdateState = context => ModelStates.CanUnload(context.ResourceSnapshot.State?.Text) ? ResourceCommandState.Enabled : ResourceCommandState.Disabled,
            })
            .ExcludeFromManifest();
    }

    /// <summary>Resource names allow letters, digits and hyphens; model ids often hold slashes, dots and underscores.</summary>
    private static string ResourceName(string modelId)
    {
        var name = new string([.. modelId.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-')]).Trim('-');
        while (name.Contains("--", StringComparison.Ordinal))
        {
            name = name.Replace("--", "-", StringComparison.Ordinal);
        }

        return name.Length > 0 && char.IsAsciiLetter(name[0]) ? name : $"model-{name}";
    }
}
