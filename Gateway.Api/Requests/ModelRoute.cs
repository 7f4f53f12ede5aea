using LlmAspire.Gateway.Api.Configuration;

namespace LlmAspire.Gateway.Api.Requests;

/// <summary>Where one model is served right now and the limits that apply to it: where a request goes.</summary>
internal sealed record ModelRoute(string Id, Uri Endpoint, ModelOptions Options, bool Managed = false)
{
    /// <summary>YARP wants the destination as a prefix without a trailing slash; the request path is appended.</summary>
    public string DestinationPrefix { get; } = Endpoint.AbsoluteUri.TrimEnd('/');
}
