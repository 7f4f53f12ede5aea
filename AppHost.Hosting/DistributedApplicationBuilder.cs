using System.Reflection;
using LlmAspire.Hosting.ApplicationModel;
using LlmAspire.Hosting.Orchestration;
using LlmAspire.Hosting.Publishing;
using LlmAspire.Hosting.ResourceService;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmAspire.Hosting;

public interface IResourceBuilder<out T> where T : IResource
{
    T Resource { get; }

    IDistributedApplicationBuilder ApplicationBuilder { get; }
}

public interface IDistributedApplicationBuilder
{
    ConfigurationManager Configuration { get; }

    IServiceCollection Services { get; }

    IHostEnvironment Environment { get; }

    DistributedApplicationOperation Operation { get; }

    /// <summary>The directory of the AppHost project (relative paths in the manifest start there).</summary>
    string AppHostDirectory { get; }

    IReadOnlyList<IResource> Resources { get; }

    /// <summary>The URL of the resource service that serves the resources' state and logs (to the dashboard).</summary>
    ResourceServiceEndpoint ResourceService { get; }

    IResourceBuilder<T> AddResource<T>(T resource) where T : IResource;

    IResourceBuilder<T> CreateResourceBuilder<T>(T resource) where T : IResource;

    DistributedApplication Build();
}

public sealed class DistributedApplicationOptions
{
    public string[] Args { get; init; } = [];

    /// <summary>The AppHost's assembly: its name names the application, its <c>UserSecretsId</c> locates generated secrets.</summary>
    public Assembly? AppHostAssembly { get; init; }

    /// <summary>Keep generated parameter values in user secrets (off in tests: every run gets fresh ones).</summary>
    public bool PersistGeneratedParameters { get; init; } = true;
}

/// <summary>Collects the resources of the application and builds it for running or publishing.</summary>
public sealed class DistributedApplicationBuilder : IDistributedApplicationBuilder
{
    private static readonly Dictionary<string, string> SwitchMappings = new()
    {
        ["--publisher"] = "Publishing:Publisher",
        ["--output-path"] = "Publishing:OutputPath",
    };

    private readonly HostApplicationBuilder host;
    private readonly List<IResource> resources = [];

    internal DistributedApplicationBuilder(DistributedApplicationOptions options)
    {
        var assembly = options.AppHostAssembly ?? Assembly.GetEntryAssembly()
            ?? throw new InvalidOperationException("The AppHost's assembly is unknown.");
        host = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = options.Args,
            ApplicationName = assembly.GetName().Name,
            // Like an Aspire AppHost started by `dotnet run` (its launch profile says Development).
            EnvironmentName = System.Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? Environments.Development,
            ContentRootPath = AppContext.BaseDirectory,
        });
        host.Configuration.AddCommandLine(options.Args, SwitchMappings);
        Secrets = UserSecretsStore.For(assembly, options.PersistGeneratedParameters);
        Secrets?.AddTo(host.Configuration);
        AppHostDirectory = FindProjectDirectory(assembly) ?? AppContext.BaseDirectory;
        Operation = string.IsNullOrEmpty(host.Configuration["Publishing:Publisher"]) ? DistributedApplicationOperation.Run : DistributedApplicationOperation.Publish;
    }

    public ConfigurationManager Configuration => host.Configuration;

    public IServiceCollection Services => host.Services;

    public IHostEnvironment Environment => host.Environment;

    public DistributedApplicationOperation Operation { get; }

    public string AppHostDirectory { get; }

    public IReadOnlyList<IResource> Resources => resources;

    public ResourceServiceEndpoint ResourceService { get; } = new();

    internal UserSecretsStore? Secrets { get; }

    public IResourceBuilder<T> AddResource<T>(T resource) where T : IResource
    {
        if (resources.Any(r => r.Name == resource.Name))
        {
            throw new InvalidOperationException($"There is already a resource named '{resource.Name}'.");
        }

        resources.Add(resource);
        return CreateResourceBuilder(resource);
    }

    public IResourceBuilder<T> CreateResourceBuilder<T>(T resource) where T : IResource => new ResourceBuilder<T>(resource, this);

    public DistributedApplication Build()
    {
        // Under DistributedApplicationTestingBuilder the AppHost's Program.cs stops here and hands its builder over.
        TestingHook.HandOver(this);
        return BuildForRun();
    }

    internal DistributedApplication BuildForRun()
    {
        DependencyGraph.ThrowOnCycles(resources);
        var model = new DistributedApplicationModel(resources);
        host.Services.AddSingleton(model);
        host.Services.AddSingleton(this);
        host.Services.AddSingleton(ResourceService);
        host.Services.AddSingleton<ResourceNotificationService>();
        host.Services.AddSingleton<ResourceLoggerService>();
        host.Services.AddSingleton<ContainerRuntime>();
        host.Services.AddSingleton<ResourceServiceHost>();
        host.Services.AddHostedService(sp => sp.GetRequiredService<ResourceServiceHost>());
        host.Services.AddSingleton<Orchestrator>();
        host.Services.AddHostedService(sp => sp.GetRequiredService<Orchestrator>());
        host.Services.AddHostedService<StartupReporter>();
        host.Services.AddSingleton<Publisher>();
        // Stopping everything in order (ModelManager stops its models first) takes longer than the default 30 s at worst.
        host.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(2));
        return new DistributedApplication(host.Build(), Operation);
    }

    /// <summary>The AppHost project's directory, recorded in its assembly by ProjectMetadata.targets.</summary>
    private static string? FindProjectDirectory(Assembly assembly) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "AppHostProjectDirectory")?.Value;
}

internal sealed class ResourceBuilder<T>(T resource, IDistributedApplicationBuilder builder) : IResourceBuilder<T> where T : IResource
{
    public T Resource { get; } = resource;

    public IDistributedApplicationBuilder ApplicationBuilder { get; } = builder;
}

/// <summary>The resources of a built application.</summary>
public sealed class DistributedApplicationModel(IReadOnlyList<IResource> resources)
{
    public IReadOnlyList<IResource> Resources { get; } = resources;

    public IResource Find(string name) => Resources.FirstOrDefault(r => r.Name == name)
        ?? throw new InvalidOperationException($"There is no resource named '{name}'; there are: {string.Join(", ", Resources.Select(r => r.Name))}.");
}
