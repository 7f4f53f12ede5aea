using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace LlmAspire.Gateway.Forwarding;

/// <summary>
/// Shapes the forwarded request: the client's gateway credentials never reach the model server (its own key is sent
/// instead when configured), and the exchange travels with the request to the policy handler.
/// </summary>
internal sealed class UpstreamTransformer : HttpTransformer
{
    public static readonly UpstreamTransformer Instance = new();

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        var exchange = httpContext.Features.GetRequiredFeature<UpstreamExchange>();
        proxyRequest.Headers.Authorization = exchange.Route.Options.UpstreamApiKey is { Length: > 0 } key
            ? new AuthenticationHeaderValue("Bearer", key)
            : null;
        proxyRequest.Options.Set(UpstreamExchange.OptionsKey, exchange);
    }
}
