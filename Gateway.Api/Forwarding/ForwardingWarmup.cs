using System.Diagnostics;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// Before the gateway listens, sends <see cref="GatewayOptions.WarmupRequests"/> chat completions, streamed and not,
/// through the forwarding path (body parsing, YARP, the policy handler, the response stream and its observer, the
/// pooled client) to a <see cref="WarmupModelServer"/> on loopback. A fresh process otherwise serves its first seconds
/// at a third of its steady rate: the runtime compiles hot methods in tiers, and only after they have run enough.
/// It is best effort: a failure is logged and the gateway starts anyway. No model server is called, and nothing is
/// recorded in the ledger or the request metrics (the pool counts one connection opened to the stand-in).
/// </summary>
internal sealed partial class ForwardingWarmup(UpstreamForwarder forwarder, IOptions<GatewayOptions> options, ILogger<ForwardingWarmup> logger)
    : IHostedService
{
    private static readonly byte[] PlainBody = """{"model":"warm-up","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}"""u8.ToArray();
    private static readonly byte[] StreamBody = """{"model":"warm-up","messages":[{"role":"user","content":"Hello"}],"max_tokens":16,"stream":true}"""u8.ToArray();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var count = options.Value.WarmupRequests;
        if (count == 0)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            await using var server = WarmupModelServer.Start();
            var route = new ModelRoute("warm-up", server.Endpoint, new ModelOptions { Endpoint = server.Endpoint });
            for (var i = 0; i < count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var body = i % 2 == 0 ? PlainBody : StreamBody;
                if (InferenceRequest.TryParse(body, InferenceOperation.Chat, out var request) is { } invalid)
                {
                    throw new InvalidOperationException($"The warm-up request is invalid: {invalid.Message}");
                }

                var context = new DefaultHttpContext { RequestAborted = cancellationToken };
                context.Request.Method = HttpMethods.Post;
                context.Request.Path = "/v1/chat/completions";
                context.Request.ContentType = "application/json";
                context.Response.Body = Stream.Null;
                var exchange = forwarder.StartExchange(context, route, InferenceOperation.Chat, request, request.UpstreamBody(body), capture: null);
                var error = await forwarder.SendAsync(context, exchange);
                if (error != ForwarderError.None || context.Response.StatusCode != StatusCodes.Status200OK || exchange.Usage is null)
                {
                    LogWarmupFailed(logger, i + 1, $"{error}, status {context.Response.StatusCode}, usage {(exchange.Usage is null ? "missing" : "read")}", null);
                    return;
                }
            }

            LogWarmedUp(logger, count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogWarmupFailed(logger, 0, exception.Message, exception);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed up the forwarding path with {Requests} requests in {Milliseconds:0} ms")]
    private static partial void LogWarmedUp(ILogger logger, int requests, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The forwarding warm-up stopped at request {Request} ({Reason}); the gateway starts without it")]
    private static partial void LogWarmupFailed(ILogger logger, int request, string reason, Exception? exception);
}
