using System.Diagnostics.CodeAnalysis;
using LlmAspire.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Routing;

/// <summary>Where one model is served and the limits that apply to it.</summary>
public sealed record ModelRoute(string Id, Uri Endpoint, ModelOptions Options)
{
    /// <summary>YARP wants the destination as a prefix without a trailing slash; the request path is appended.</summary>
    public string DestinationPrefix { get; } = Endpoint.AbsoluteUri.TrimEnd('/');
}

/// <summary>The gateway's routing table: which model ids exist and where each is served.</summary>
public interface IModelRouteTable
{
    IReadOnlyCollection<ModelRoute> Routes { get; }

    bool TryGetRoute(string model, [NotNullWhen(true)] out ModelRoute? route);
}

/// <summary>Routes from <c>Gateway:Models</c>: servers that run whether or not anyone calls them.</summary>
internal sealed class ConfiguredModelRouteTable(IOptions<GatewayOptions> options) : IModelRouteTable
{
    private readonly Dictionary<string, ModelRoute> routes = options.Value.Models.ToDictionary(
        entry => entry.Key,
        entry => new ModelRoute(entry.Key, entry.Value.Endpoint!, entry.Value),
        StringComparer.Ordinal);

    public IReadOnlyCollection<ModelRoute> Routes => routes.Values;

    public bool TryGetRoute(string model, [NotNullWhen(true)] out ModelRoute? route) => routes.TryGetValue(model, out route);
}
