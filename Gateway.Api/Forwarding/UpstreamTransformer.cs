using System.Collections.Frozen;
using System.Net.Http.Headers;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// Shapes the forwarded request. Request headers are forwarded from an allow-list: what a model server needs to read
/// the body and answer it (<c>Content-Type</c>, <c>Accept</c>), the trace context, and whatever an operator adds in
/// <see cref="UpstreamPoolOptions.ForwardedRequestHeaders"/>. Everything else a client sends stays at the gateway:
/// its credentials (the model's own key is sent instead, when configured), who it is and where it came from
/// (<c>Cookie</c>, <c>X-Forwarded-For</c>, <c>Forwarded</c>, <c>X-Real-IP</c>, …: clients can forge them, and the
/// model server has no use for them) and hop-by-hop headers. The exchange travels with the request to the policy handler.
/// </summary>
/// <remarks>
/// An allow-list rather than a deny-list: no list of identity and proxy headers is ever complete, and a header
/// forwarded by mistake can leak a client's session or mislead the server's logs, while one held back by mistake only
/// needs a line of configuration.
/// </remarks>
internal sealed class UpstreamTransformer(IOptions<GatewayOptions> options) : HttpTransformer
{
    /// <summary>Headers every model server may need.</summary>
    private static readonly string[] AlwaysForwarded = ["Accept", "Content-Type", "Content-Length", "traceparent", "tracestate", "baggage"];

    private readonly FrozenSet<string> forwarded =
        AlwaysForwarded.Concat(options.Value.Upstream.ForwardedRequestHeaders).ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        KeepForwarded(proxyRequest.Headers);
        if (proxyRequest.Content is { } content)
        {
            KeepForwarded(content.Headers);
        }

        var exchange = httpContext.Features.GetRequiredFeature<RequestState>().Upstream
            ?? throw new InvalidOperationException("A request is forwarded before its upstream exchange began.");
        proxyRequest.Headers.Authorization = exchange.Route.Options.UpstreamApiKey is { Length: > 0 } key
            ? new AuthenticationHeaderValue("Bearer", key)
            : null;
        proxyRequest.Options.Set(UpstreamExchange.OptionsKey, exchange);
    }

    private void KeepForwarded(HttpHeaders headers)
    {
        foreach (var name in headers.Select(header => header.Key).Where(name => !forwarded.Contains(name)).ToList())
        {
            headers.Remove(name);
        }
    }
}
