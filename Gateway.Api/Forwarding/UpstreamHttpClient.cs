using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// The one forwarding client of the process: a single pooled <see cref="SocketsHttpHandler"/> shared by every model,
/// with no timeout of its own (per-model deadlines are enforced per request) and no connection cap (admission already
/// bounds each model's concurrency), so the pool never becomes a hidden second queue. Every idle connection is kept
/// alive: the keep-alive pool is the connection pool.
/// </summary>
internal sealed class UpstreamHttpClient : IDisposable
{
    public UpstreamHttpClient(
        IOptions<GatewayOptions> options, UpstreamDeadlines deadlines, IModelServerRecovery recovery, UpstreamMetrics metrics, ILogger<UpstreamPolicyHandler> logger)
    {
        var pool = options.Value.Upstream;
        var sockets = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            PooledConnectionLifetime = pool.PooledConnectionLifetime,
            PooledConnectionIdleTimeout = pool.PooledConnectionIdleTimeout,
            ConnectTimeout = Timeout.InfiniteTimeSpan,
            ConnectCallback = (context, cancellationToken) => ConnectAsync(context, metrics, cancellationToken),
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
        };

        Invoker = new HttpMessageInvoker(new UpstreamPolicyHandler(sockets, deadlines, recovery, metrics, logger), disposeHandler: true);
    }

    public HttpMessageInvoker Invoker { get; }

    public void Dispose() => Invoker.Dispose();

    /// <summary>Opens a TCP connection within the connect timeout of the model whose request asked for it.</summary>
    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, UpstreamMetrics metrics, CancellationToken cancellationToken)
    {
        var timeout = context.InitialRequestMessage.Options.TryGetValue(UpstreamExchange.OptionsKey, out var exchange)
            ? exchange.Route.Options.ConnectTimeout
            : TimeSpan.FromSeconds(10);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectTimeout.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, connectTimeout.Token);
            metrics.ConnectionOpened(context.DnsEndPoint);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"Connecting to {context.DnsEndPoint.Host}:{context.DnsEndPoint.Port} timed out after {timeout}.");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
