using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.Hosting.ResourceService;

/// <summary>The resource service's URL as a value for a resource's environment (the dashboard's); known once it listens.</summary>
public sealed class ResourceServiceEndpoint : IValueProvider, IManifestExpressionProvider
{
    internal string? Url { get; set; }

    /// <summary>Only local runs have a resource service.</summary>
    public string ValueExpression => throw new InvalidOperationException("The resource service exists only when running locally; exclude its users from the manifest.");

    public ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<string?>(Url ?? throw new InvalidOperationException("The resource service has not started."));
}
