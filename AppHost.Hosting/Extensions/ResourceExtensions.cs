using System.Security.Cryptography;
using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.Hosting;

/// <summary>Adds the general kinds of resources: parameters, projects, executables and containers.</summary>
public static class ResourceExtensions
{
    private const string GeneratedValueCharacters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    /// <summary>A value from configuration <c>Parameters:&lt;name&gt;</c>; the application refuses to start without one.</summary>
    public static IResourceBuilder<ParameterResource> AddParameter(this IDistributedApplicationBuilder builder, string name, bool secret = false) =>
        builder.AddResource(new ParameterResource(name, () => builder.Configuration[$"Parameters:{name}"]
            ?? throw new InvalidOperationException($"Parameter '{name}' has no value: set configuration Parameters:{name} (environment Parameters__{name})."),
            secret, generate: null));

    /// <summary>
    /// A value from configuration <c>Parameters:&lt;name&gt;</c>, otherwise made up once per machine and kept in the
    /// AppHost's user secrets (outside the repository), so every later run uses the same one.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddParameter(this IDistributedApplicationBuilder builder, string name, GenerateParameterDefault generate, bool secret = true)
    {
        var secrets = (builder as DistributedApplicationBuilder)?.Secrets;
        return builder.AddResource(new ParameterResource(name, () =>
        {
            var key = $"Parameters:{name}";
            if (builder.Configuration[key] is { } configured)
            {
                return configured;
            }

            var generated = RandomNumberGenerator.GetString(GeneratedValueCharacters, generate.MinLength);
            secrets?.Set(key, generated);
            return generated;
        }, secret, generate));
    }

    /// <summary>
    /// A project of this repository (<c>Projects.X</c> is generated from the AppHost's project references), run locally
    /// as <c>dotnet &lt;built assembly&gt;</c> with Aspire's conventions: an <c>http</c> endpoint passed as
    /// <c>ASPNETCORE_URLS</c>, <c>OTEL_SERVICE_NAME</c>, and the OTLP endpoint when one is configured.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddProject<TProject>(this IDistributedApplicationBuilder builder, string name)
        where TProject : IProjectMetadata, new()
    {
        var project = builder.AddResource(new ProjectResource(name, new TProject())).WithHttpEndpoint();
        var http = project.GetEndpoint("http");
        var configuration = builder.Configuration;
        var environmentName = builder.Environment.EnvironmentName;
        return project.WithEnvironment(context =>
        {
            var variables = context.EnvironmentVariables;
            if (context.Operation == DistributedApplicationOperation.Publish)
            {
                variables["HTTP_PORTS"] = http.Property(EndpointProperty.TargetPort);
                variables["ASPNETCORE_FORWARDEDHEADERS_ENABLED"] = "true";
                return;
            }

            variables["ASPNETCORE_URLS"] = http;
            variables["ASPNETCORE_ENVIRONMENT"] = environmentName;
            variables["DOTNET_ENVIRONMENT"] = environmentName;
            variables["OTEL_SERVICE_NAME"] = name;
            variables["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={name}-{Guid.NewGuid():N}";
            // Without a collector the services leave OpenTelemetry out entirely (ServiceDefaults), so pass it only when set.
            foreach (var setting in new[] { "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS" })
            {
                if (configuration[setting] is { Length: > 0 } value)
                {
                    variables[setting] = value;
                }
            }
        });
    }

    /// <summary>A program on this machine, started in <paramref name="workingDirectory"/>.</summary>
    public static IResourceBuilder<ExecutableResource> AddExecutable(this IDistributedApplicationBuilder builder, string name, string command, string workingDirectory, params object[] args) =>
        builder.AddResource(new ExecutableResource(name, command, workingDirectory)).WithArgs(args);

    public static IResourceBuilder<ContainerResource> AddContainer(this IDistributedApplicationBuilder builder, string name, string image, string tag = "latest") =>
        builder.AddResource(new ContainerResource(name, image, tag));
}
