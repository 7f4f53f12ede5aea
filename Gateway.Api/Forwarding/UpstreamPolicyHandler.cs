using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// The gateway's only policy layer between YARP and the socket pool: it bounds the wait for response headers by the
/// first-byte budget, retries a request once when the connection could not even be opened (nothing was sent, so
/// it is safe for any request; a managed model's server is first checked and, if gone, started again, through
/// <see cref="IModelServerRecovery"/>), and hands YARP a response body that enforces the remaining deadlines.
/// </summary>
internal sealed partial class UpstreamPolicyHandler(
    HttpMessageHandler inner, UpstreamDeadlines deadlines, IModelServerRecovery recovery, UpstreamMetrics metrics, ILogger<UpstreamPolicyHandler> logger)
    : DelegatingHandler(inner)
{
    private const int MaxConnectAttempts = 2;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(UpstreamExchange.OptionsKey, out var exchange))
        {
            return await base.SendAsync(request, cancellationToken);
        }

        SendBodyWithHeaders(request, exchange);
        var deadline = deadlines.Start(exchange.NextReadBudget());
        try
        {
            var response = await SendWithConnectRetryAsync(request, exchange, deadline, cancellationToken);
            if (response.Content is { } content)
            {
                var eventStream = content.Headers.ContentType?.MediaType == "text/event-stream";
                response.Content = new UpstreamResponseContent(content, exchange, eventStream, deadline);
                deadline = null;
            }

            return response;
        }
        finally
        {
            deadline?.Dispose();
        }
    }

    /// <summary>
    /// Sends the body the gateway already holds as content of known length, which the connection writes together with
    /// the request headers in one send; YARP's own content copies the client's body after the headers, in a second
    /// send that the model server has to wait and wake up for. YARP's content is then never started, which YARP allows
    /// for (it only waits for a request body copy that has begun).
    /// </summary>
    private static void SendBodyWithHeaders(HttpRequestMessage request, UpstreamExchange exchange)
    {
        if (request.Content is not { } original || original is ReadOnlyMemoryContent)
        {
            return;
        }

        var content = new ReadOnlyMemoryContent(exchange.RequestBody);
        foreach (var header in original.Headers)
        {
            content.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        content.Headers.ContentLength = exchange.RequestBody.Length;
        request.Content = content;
    }

    private async Task<HttpResponseMessage> SendWithConnectRetryAsync(
        HttpRequestMessage request, UpstreamExchange exchange, UpstreamDeadline deadline, CancellationToken cancellationToken)
    {
        deadline.EndWith(cancellationToken);
        while (true)
        {
            exchange.ConnectAttempts++;
            try
            {
                return await base.SendAsync(request, deadline.Token);
            }
            catch (HttpRequestException exception) when (exception.HttpRequestError == HttpRequestError.ConnectionError && !deadline.Token.IsCancellationRequested)
            {
                if (exchange.ConnectAttempts >= MaxConnectAttempts)
                {
                    exchange.Failure = UpstreamFailure.Unreachable;
                    throw;
                }

                metrics.ConnectRetried(exchange.Route.Id);
                LogConnectRetry(logger, exchange.Route.Id, exchange.Route.DestinationPrefix, exception.Message);
                if (exchange.Route.Managed)
                {
                    await RerouteAsync(request, exchange, deadline.Token);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && deadline.IsExpired)
            {
                exchange.Failure = exchange.ClassifyTimeout();
                throw new TimeoutException(exchange.DescribeFailure());
            }
        }
    }

    /// <summary>Points the request at the model's server as ModelManager has it after checking (and maybe restarting) it.</summary>
    private async Task RerouteAsync(HttpRequestMessage request, UpstreamExchange exchange, CancellationToken cancellationToken)
    {
        try
        {
            exchange.Route = await recovery.ReactivateAsync(exchange.Route, cancellationToken);
        }
        catch (ModelActivationException unavailable)
        {
            exchange.Failure = UpstreamFailure.Unreachable;
            exchange.Unavailable = unavailable.Error with { Message = $"The model server for '{exchange.Route.Id}' refused connections and could not be brought back: {unavailable.Error.Message}" };
            exchange.UnavailableRetryAfter = unavailable.RetryAfter;
            throw new HttpRequestException(HttpRequestError.ConnectionError, exchange.Unavailable.Message, unavailable);
        }

        request.RequestUri = new Uri(exchange.Route.DestinationPrefix + request.RequestUri!.PathAndQuery);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not connect to {Endpoint} for model {Model} ({Reason}); retrying once")]
    private static partial void LogConnectRetry(ILogger logger, string model, string endpoint, string reason);
}
