using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Inference;

/// <summary>
/// Reads an inference request's body once, within <see cref="GatewayOptions.MaxRequestBodyBytes"/>, and picks out
/// what the gateway needs from it (<see cref="InferenceRequest"/>). A body that is too large, unreadable or not
/// acceptable is answered here, in OpenAI's shape.
/// </summary>
internal sealed partial class InferenceBodyReader(IOptions<GatewayOptions> options, ILogger<InferenceBodyReader> logger)
{
    private readonly long maxBodyBytes = options.Value.MaxRequestBodyBytes;

    /// <summary>The parsed request and the body's bytes; null when the client has been answered with an error.</summary>
    public async Task<(InferenceRequest Request, ReadOnlyMemory<byte> Body)?> ReadAsync(HttpContext context, InferenceOperation operation)
    {
        if (await ReadBodyAsync(context) is not { } body)
        {
            return null;
        }

        if (InferenceRequest.TryParse(body.Span, operation, out var request) is { } invalid)
        {
            await invalid.WriteAsync(context.Response);
            return null;
        }

        return (request, body);
    }

    /// <summary>Reads the whole body within the configured limit; answers 413 and returns null when it is larger.</summary>
    private async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > maxBodyBytes)
        {
            await OpenAiError.BodyTooLarge(maxBodyBytes).WriteAsync(context.Response);
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = maxBodyBytes;
        }

        try
        {
            if (context.Request.ContentLength is { } length)
            {
                var exact = new byte[length];
                await context.Request.Body.ReadExactlyAsync(exact, context.RequestAborted);
                return exact;
            }

            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        }
        catch (BadHttpRequestException exception)
        {
            // The client's fault (too large, bad chunked framing, sent too slowly): answered here, so that the ledger
            // records the status, and logged as one Debug line, not as the gateway's error.
            LogUnreadableBody(logger, exception.StatusCode, exception.Message);
            await (exception.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? OpenAiError.BodyTooLarge(maxBodyBytes)
                : OpenAiError.Of(exception.StatusCode, exception.Message, ErrorResponseExtensions.CodeFor(exception.StatusCode))).WriteAsync(context.Response);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "The request body could not be read ({Status}: {Reason})")]
    private static partial void LogUnreadableBody(ILogger logger, int status, string reason);
}
