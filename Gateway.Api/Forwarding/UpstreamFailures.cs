using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Shutdown;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>How a failed upstream exchange is described: in logs and traces, by its error code, and to the client.</summary>
internal static class UpstreamFailures
{
    public static string DescribeFailure(this UpstreamExchange exchange) => exchange.Failure switch
    {
        UpstreamFailure.Unreachable => $"The model server for '{exchange.Route.Id}' could not be reached.",
        UpstreamFailure.FirstByteTimeout => $"The model server for '{exchange.Route.Id}' sent nothing within FirstByteTimeout ({exchange.Route.Options.FirstByteTimeout}).",
        UpstreamFailure.StreamIdleTimeout => $"The model server for '{exchange.Route.Id}' went silent for longer than StreamIdleTimeout ({exchange.Route.Options.StreamIdleTimeout}).",
        UpstreamFailure.RequestTimeout => $"The request to '{exchange.Route.Id}' ran longer than RequestTimeout ({exchange.Route.Options.RequestTimeout}).",
        UpstreamFailure.StreamBroken => $"The model server for '{exchange.Route.Id}' closed the stream before it was complete.",
        UpstreamFailure.ShuttingDown => GatewayShutdown.Error(exchange.Route.Id).Message,
        _ => $"The model server for '{exchange.Route.Id}' failed.",
    };

    /// <summary>
    /// What the client is told when the exchange failed, as the answer or as the event that ends a stream: why a
    /// managed model could not be brought back (503), or 504 for a deadline and 502 for anything else.
    /// </summary>
    public static OpenAiError FailureError(this UpstreamExchange exchange) =>
        exchange.Failure == UpstreamFailure.ShuttingDown ? GatewayShutdown.Error(exchange.Route.Id) : exchange.Unavailable ?? new OpenAiError(
            exchange.Failure is UpstreamFailure.FirstByteTimeout or UpstreamFailure.StreamIdleTimeout or UpstreamFailure.RequestTimeout
                ? StatusCodes.Status504GatewayTimeout
                : StatusCodes.Status502BadGateway,
            exchange.DescribeFailure(), "server_error", null, exchange.FailureCode());

    /// <summary>The Retry-After of <see cref="FailureError"/>, when it has one.</summary>
    public static TimeSpan? RetryAfter(this UpstreamExchange exchange) =>
        exchange.Failure == UpstreamFailure.ShuttingDown ? GatewayShutdown.RetryAfter : exchange.UnavailableRetryAfter;

    public static string FailureCode(this UpstreamExchange exchange) => exchange.Failure switch
    {
        UpstreamFailure.Unreachable => "upstream_unreachable",
        UpstreamFailure.StreamBroken => "upstream_stream_broken",
        UpstreamFailure.ShuttingDown => "shutting_down",
        UpstreamFailure.None => "upstream_error",
        _ => "upstream_timeout",
    };
}
