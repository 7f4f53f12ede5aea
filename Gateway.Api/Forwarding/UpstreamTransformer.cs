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
/// needs a line of configuration. The base transform is not called: it would copy every client header only for most of
/// them to be removed again (YARP sets the request URI from the destination prefix when the transform leaves it unset).
/// </remarks>
internal sealed class UpstreamTransformer(IOptions<GatewayOptions> options) : HttpTransformer
{
    /// <summary>Headers every model server may need.</summary>
    private static readonly string[] AlwaysForwarded = ["Accept", "Content-Type", "Content-Length", "traceparent", "tracestate", "baggage"];

    private readonly string[] forwarded =
        AlwaysForwarded.Concat(options.Value.Upstream.ForwardedRequestHeaders).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        var headers = httpContext.Request.Headers;
        foreach (var name in forwarded)
        {
            if (headers.TryGetValue(name, out var values) && values.Count > 0
                && !proxyRequest.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values))
            {
                // A content header (Content-Type, Content-Length, …) belongs to the body, when there is one.
                proxyRequest.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values);
            }
        }

        var exchange = httpContext.Features.GetRequiredFeature<RequestState>().Upstream
            ?? throw new InvalidOperationException("A request is forwarded before its upstream exchange began.");
        if (exchange.Route.Options.UpstreamApiKey is { Length: > 0 } key)
        {
            proxyRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        proxyRequest.Options.Set(UpstreamExchange.OptionsKey, exchange);
        return ValueTask.CompletedTask;
    }
}
