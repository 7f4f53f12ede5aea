namespace LlmAspire.Hosting.ApplicationModel;

/// <summary>Whether the application is being run locally or written out for deployment.</summary>
public enum DistributedApplicationOperation
{
    Run,
    Publish,
}

/// <summary>
/// What a resource's environment callbacks fill in. Values are strings or run-time values
/// (<see cref="IValueProvider"/> + <see cref="IManifestExpressionProvider"/>): resolved when running, written as
/// expressions when publishing.
/// </summary>
public sealed class EnvironmentCallbackContext(DistributedApplicationOperation operation)
{
    public DistributedApplicationOperation Operation { get; } = operation;

    public Dictionary<string, object> EnvironmentVariables { get; } = new(StringComparer.Ordinal);
}

public sealed class EnvironmentCallbackAnnotation(Action<EnvironmentCallbackContext> callback) : IResourceAnnotation
{
    public Action<EnvironmentCallbackContext> Callback { get; } = callback;
}

/// <summary>What a resource's argument callbacks fill in; like environment values, each is a string or a run-time value.</summary>
public sealed class CommandLineArgsCallbackContext(DistributedApplicationOperation operation)
{
    public DistributedApplicationOperation Operation { get; } = operation;

    public List<object> Args { get; } = [];
}

public sealed class CommandLineArgsCallbackAnnotation(Action<CommandLineArgsCallbackContext> callback) : IResourceAnnotation
{
    public Action<CommandLineArgsCallbackContext> Callback { get; } = callback;
}

/// <summary>The resource starts only once <see cref="Resource"/> is healthy.</summary>
public sealed class WaitAnnotation(IResource resource) : IResourceAnnotation
{
    public IResource Resource { get; } = resource;
}

/// <summary>The resource is healthy while <see cref="Check"/> answers true (probed while it runs).</summary>
public sealed class HealthCheckAnnotation(string description, Func<CancellationToken, Task<bool>> check) : IResourceAnnotation
{
    public string Description { get; } = description;

    public Func<CancellationToken, Task<bool>> Check { get; } = check;
}

/// <summary>Something to do each time the resource has become healthy (Aspire's <c>ResourceReadyEvent</c>).</summary>
public sealed class ResourceReadyAnnotation(Func<ResourceReadyEvent, CancellationToken, Task> callback) : IResourceAnnotation
{
    public Func<ResourceReadyEvent, CancellationToken, Task> Callback { get; } = callback;
}

public sealed record ResourceReadyEvent(IResource Resource, IServiceProvider Services);

/// <summary>The resource references another: it receives its connection string or service endpoints.</summary>
public sealed class ResourceReferenceAnnotation(IResource resource) : IResourceAnnotation
{
    public IResource Resource { get; } = resource;
}

/// <summary>The resource exists only when running locally (the dashboard): publishers leave it out.</summary>
public sealed class ExcludeFromManifestAnnotation : IResourceAnnotation;
