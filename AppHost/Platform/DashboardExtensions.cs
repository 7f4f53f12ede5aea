using LlmAspire.Hosting;
using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.AppHost.Platform;

public static class DashboardExtensions
{
    /// <summary>
    /// The dashboard (local runs only): resources and logs from the AppHost's resource service, models from ModelManager
    /// (with its token), gateway figures and keys through the admin API. Its URL is printed once it runs.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddDashboard<TProject>(
        this IDistributedApplicationBuilder builder,
        string name,
        IResourceBuilder<ProjectResource> modelManager,
        IResourceBuilder<ParameterResource> modelManagerToken,
        IResourceBuilder<ProjectResource> gateway,
        IResourceBuilder<ParameterResource> adminKey)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name)
            .ExcludeFromManifest()
            .WithEnvironment("Dashboard__ResourceServiceUrl", builder.ResourceService)
            .WithReference(modelManager)
            .WithEnvironment("Dashboard__ModelManagerToken", modelManagerToken)
            .WithReference(gateway)
            .WithEnvironment("Dashboard__GatewayAdminKey", adminKey)
            .WithHttpHealthCheck("/health")
            .OnResourceReady((dashboard, _, _) =>
            {
                Console.WriteLine($"Dashboard:  {dashboard.GetEndpoint("http").Url}");
                return Task.CompletedTask;
            });
}
