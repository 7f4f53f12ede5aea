using System.Globalization;

namespace LlmAspire.Hosting.ApplicationModel;

/// <summary>
/// A network endpoint of a resource. <see cref="TargetPort"/> is where the server listens inside its container (the
/// manifest's binding); locally every endpoint is allocated a free port on 127.0.0.1 when the application starts.
/// </summary>
public sealed class EndpointAnnotation(string name, string scheme, int? targetPort = null, bool isExternal = false) : IResourceAnnotation
{
    public string Name { get; } = name;

    /// <summary><c>http</c> or <c>tcp</c>.</summary>
    public string Scheme { get; } = scheme;

    public int? TargetPort { get; } = targetPort;

    /// <summary>Reachable from outside the deployment (an ingress in the manifest).</summary>
    public bool IsExternal { get; set; } = isExternal;

    public AllocatedEndpoint? Allocated { get; set; }
}

public sealed record AllocatedEndpoint(string Host, int Port);

public enum EndpointProperty
{
    Url,
    Host,
    Port,
    TargetPort,
}

/// <summary>A named endpoint of a resource, resolvable once ports are allocated.</summary>
public sealed class EndpointReference(IResourceWithEndpoints resource, string endpointName) : IValueProvider, IManifestExpressionProvider
{
    public IResourceWithEndpoints Resource { get; } = resource;

    public string EndpointName { get; } = endpointName;

    public EndpointAnnotation Annotation => Resource.Annotations.OfType<EndpointAnnotation>().SingleOrDefault(e => e.Name == EndpointName)
        ?? throw new InvalidOperationException($"Resource '{Resource.Name}' has no endpoint named '{EndpointName}'.");

    public string Url => Resolve(EndpointProperty.Url);

    public string ValueExpression => Property(EndpointProperty.Url).ValueExpression;

    public EndpointReferenceExpression Property(EndpointProperty property) => new(this, property);

    public ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult<string?>(Url);

    internal string Resolve(EndpointProperty property)
    {
        var annotation = Annotation;
        var allocated = annotation.Allocated
            ?? throw new InvalidOperationException($"Endpoint '{EndpointName}' of '{Resource.Name}' has no port yet: the application has not started.");
        return property switch
        {
            EndpointProperty.Url => $"{annotation.Scheme}://{allocated.Host}:{allocated.Port.ToString(CultureInfo.InvariantCulture)}",
            EndpointProperty.Host => allocated.Host,
            EndpointProperty.Port => allocated.Port.ToString(CultureInfo.InvariantCulture),
            EndpointProperty.TargetPort => (annotation.TargetPort ?? allocated.Port).ToString(CultureInfo.InvariantCulture),
            _ => throw new ArgumentOutOfRangeException(nameof(property)),
        };
    }
}

public sealed class EndpointReferenceExpression(EndpointReference endpoint, EndpointProperty property) : IValueProvider, IManifestExpressionProvider
{
    public EndpointReference Endpoint { get; } = endpoint;

    public EndpointProperty Property { get; } = property;

    public string ValueExpression => $"{{{Endpoint.Resource.Name}.bindings.{Endpoint.EndpointName}.{ManifestName(Property)}}}";

    public ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<string?>(Endpoint.Resolve(Property));

    private static string ManifestName(EndpointProperty property) => property switch
    {
        EndpointProperty.Url => "url",
        EndpointProperty.Host => "host",
        EndpointProperty.Port => "port",
        _ => "targetPort",
    };
}
