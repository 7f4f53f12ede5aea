using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.Hosting;

/// <summary>The wiring verbs of an AppHost: references, waits, environment, endpoints, health checks.</summary>
public static class ResourceBuilderExtensions
{
    private static readonly HttpClient HealthClient = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Sets <c>ConnectionStrings__&lt;name&gt;</c> to the resource's connection string.</summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResourceWithConnectionString> source)
        where T : IResourceWithEnvironment
    {
        var resource = source.Resource;
        builder.Resource.Annotations.Add(new ResourceReferenceAnnotation(resource));
        return builder.WithEnvironment($"ConnectionStrings__{resource.Name}", new ConnectionStringReference(resource));
    }

    /// <summary>Sets <c>services__&lt;name&gt;__&lt;endpoint&gt;__0</c> for each endpoint of the resource (service discovery).</summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResourceWithServiceDiscovery> source)
        where T : IResourceWithEnvironment
    {
        var resource = source.Resource;
        builder.Resource.Annotations.Add(new ResourceReferenceAnnotation(resource));
        return builder.WithEnvironment(context =>
        {
            foreach (var endpoint in resource.Annotations.OfType<EndpointAnnotation>())
            {
                context.EnvironmentVariables[$"services__{resource.Name}__{endpoint.Name}__0"] = resource.GetEndpoint(endpoint.Name);
            }
        });
    }

    /// <summary>Starts the resource only once <paramref name="dependency"/> is healthy.</summary>
    public static IResourceBuilder<T> WaitFor<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResource> dependency)
        where T : IResourceWithWaitSupport
    {
        builder.Resource.Annotations.Add(new WaitAnnotation(dependency.Resource));
        return builder;
    }

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, string value)
        where T : IResourceWithEnvironment => builder.WithEnvironment(context => context.EnvironmentVariables[name] = value);

    /// <summary>An environment variable whose value is known when the application runs (a parameter, an endpoint, an expression).</summary>
    public static IResourceBuilder<T> WithEnvironment<T, TValue>(this IResourceBuilder<T> builder, string name, TValue value)
        where T : IResourceWithEnvironment
        where TValue : IValueProvider, IManifestExpressionProvider =>
        builder.WithEnvironment(context => context.EnvironmentVariables[name] = value);

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, IResourceBuilder<ParameterResource> parameter)
        where T : IResourceWithEnvironment => builder.WithEnvironment(name, parameter.Resource);

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, Action<EnvironmentCallbackContext> callback)
        where T : IResourceWithEnvironment
    {
        builder.Resource.Annotations.Add(new EnvironmentCallbackAnnotation(callback));
        return builder;
    }

    public static IResourceBuilder<T> WithArgs<T>(this IResourceBuilder<T> builder, params object[] args) where T : IResource =>
        builder.WithArgs(context => context.Args.AddRange(args));

    /// <summary>Arguments that depend on the operation (a container told where to listen when it runs here).</summary>
    public static IResourceBuilder<T> WithArgs<T>(this IResourceBuilder<T> builder, Action<CommandLineArgsCallbackContext> callback) where T : IResource
    {
        builder.Resource.Annotations.Add(new CommandLineArgsCallbackAnnotation(callback));
        return builder;
    }

    /// <summary>An HTTP endpoint; locally on a free 127.0.0.1 port, in a container on <paramref name="targetPort"/>.</summary>
    public static IResourceBuilder<T> WithHttpEndpoint<T>(this IResourceBuilder<T> builder, int? targetPort = null, string name = "http")
        where T : IResourceWithEndpoints => builder.WithEndpoint(name, "http", targetPort);

    public static IResourceBuilder<T> WithEndpoint<T>(this IResourceBuilder<T> builder, string name, string scheme, int? targetPort)
        where T : IResourceWithEndpoints
    {
        if (builder.Resource.Annotations.OfType<EndpointAnnotation>().Any(e => e.Name == name))
        {
            throw new InvalidOperationException($"Resource '{builder.Resource.Name}' already has an endpoint named '{name}'.");
        }

        builder.Resource.Annotations.Add(new EndpointAnnotation(name, scheme, targetPort));
        return builder;
    }

    /// <summary>Marks every endpoint as reachable from outside the deployment.</summary>
    public static IResourceBuilder<T> WithExternalHttpEndpoints<T>(this IResourceBuilder<T> builder) where T : IResourceWithEndpoints
    {
        foreach (var endpoint in builder.Resource.Annotations.OfType<EndpointAnnotation>().Where(e => e.Scheme == "http"))
        {
            endpoint.IsExternal = true;
        }

        return builder;
    }

    public static EndpointReference GetEndpoint<T>(this IResourceBuilder<T> builder, string name) where T : IResourceWithEndpoints =>
        builder.Resource.GetEndpoint(name);

    public static EndpointReference GetEndpoint(this IResourceWithEndpoints resource, string name) => new(resource, name);

    /// <summary>Healthy while <c>GET &lt;path&gt;</c> on the HTTP endpoint answers 2xx.</summary>
    public static IResourceBuilder<T> WithHttpHealthCheck<T>(this IResourceBuilder<T> builder, string path = "/health", string endpointName = "http")
        where T : IResourceWithEndpoints
    {
        var endpoint = builder.Resource.GetEndpoint(endpointName);
        return builder.WithHealthCheck($"GET {path}", async cancellationToken =>
        {
            using var response = await HealthClient.GetAsync(new Uri(new Uri(endpoint.Url), path), cancellationToken);
            return response.IsSuccessStatusCode;
        });
    }

    public static IResourceBuilder<T> WithHealthCheck<T>(this IResourceBuilder<T> builder, string description, Func<CancellationToken, Task<bool>> check)
        where T : IResource
    {
        builder.Resource.Annotations.Add(new HealthCheckAnnotation(description, check));
        return builder;
    }

    /// <summary>Leaves the resource out of the manifest and the compose file: it is for local runs only.</summary>
    public static IResourceBuilder<T> ExcludeFromManifest<T>(this IResourceBuilder<T> builder) where T : IResource
    {
        builder.Resource.Annotations.Add(new ExcludeFromManifestAnnotation());
        return builder;
    }

    /// <summary>Runs <paramref name="callback"/> each time the resource has become healthy, before anything waiting for it starts.</summary>
    public static IResourceBuilder<T> OnResourceReady<T>(this IResourceBuilder<T> builder, Func<T, ResourceReadyEvent, CancellationToken, Task> callback)
        where T : IResource
    {
        var resource = builder.Resource;
        builder.Resource.Annotations.Add(new ResourceReadyAnnotation((readyEvent, cancellationToken) => callback(resource, readyEvent, cancellationToken)));
        return builder;
    }
}
