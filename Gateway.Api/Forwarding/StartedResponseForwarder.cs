using System.Buffers;
using System.Net;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using Yarp.ReverseProxy.Forwarder;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// Forwards a request whose response the gateway already started while the model loaded (<c>: loading</c> comments of
/// a stream, spaces before a JSON body), so status and headers are no longer the model server's to set: its body is
/// copied through the same policy pipeline as every forwarded request, and anything but a success becomes the error
/// that ends the response (<see cref="OpenAiError.WriteEndingAsync"/>: an error event and <c>data: [DONE]</c> on a
/// stream, as vLLM ends a stream that fails; the error object as the JSON body).
/// </summary>
internal sealed class StartedResponseForwarder(UpstreamHttpClient upstream, UpstreamTransformer transformer)
{
    private const int MaxErrorBodyBytes = 64 * 1024;

    public async Task ForwardAsync(HttpContext context, UpstreamExchange exchange)
    {
        var aborted = context.RequestAborted;
        var destination = RequestUtilities.MakeDestinationAddress(exchange.Route.DestinationPrefix, context.Request.Path, context.Request.QueryString);
        using var request = new HttpRequestMessage(HttpMethod.Post, destination)
        {
            Content = new ReadOnlyMemoryContent(exchange.RequestBody),
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        await transformer.TransformRequestAsync(context, request, exchange.Route.DestinationPrefix, aborted);
        // The client's Content-Length was copied, but the forwarded body may differ (include_usage added).
        request.Content.Headers.ContentLength = exchange.RequestBody.Length;

        OpenAiError? failure;
        var copied = false;
        try
        {
            using var response = await upstream.Invoker.SendAsync(request, aborted);
            failure = response.IsSuccessStatusCode
                ? await CopyBodyAsync(response, context.Response, () => copied = true, aborted)
                : await ReadErrorAsync(response, exchange, aborted);
        }
        catch (IOException) when (copied && !aborted.IsCancellationRequested)
        {
            // A JSON body cut short cannot be repaired (a stream's ends with an error event instead): as when YARP
            // forwards it, the client's connection is aborted.
            context.Abort();
            return;
        }
        catch (Exception exception) when (exception is HttpRequestException or TimeoutException or IOException && !aborted.IsCancellationRequested)
        {
            failure = exchange.FailureError();
        }

        if (failure is not null)
        {
            exchange.EndedWithStatus = failure.Status;
            await failure.WriteEndingAsync(context.Response);
        }
    }

    /// <summary>Copies the body chunk by chunk; the response stream already ends a failed event stream with an error event.</summary>
    private static async Task<OpenAiError?> CopyBodyAsync(HttpResponseMessage response, HttpResponse client, Action copying, CancellationToken aborted)
    {
        await using var body = await response.Content.ReadAsStreamAsync(aborted);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer, aborted)) > 0)
            {
                copying();
                await client.Body.WriteAsync(buffer.AsMemory(0, read), aborted);
                await client.Body.FlushAsync(aborted);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return null;
    }

    /// <summary>The model server's error answer (OpenAI-shaped from vLLM) as the error to end the response with.</summary>
    private static async Task<OpenAiError> ReadErrorAsync(HttpResponseMessage response, UpstreamExchange exchange, CancellationToken aborted)
    {
        exchange.Failure = UpstreamFailure.ErrorStatus;
        var status = (int)response.StatusCode;
        await using var body = await response.Content.ReadAsStreamAsync(aborted);
        var buffer = new byte[MaxErrorBodyBytes];
        var length = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, aborted);
        return OpenAiError.TryParse(buffer.AsMemory(0, length), status, out var error)
            ? error
            : new OpenAiError(status, $"The model server for '{exchange.Route.Id}' answered {status}.", status < 500 ? "invalid_request_error" : "server_error", null, "upstream_error");
    }
}
