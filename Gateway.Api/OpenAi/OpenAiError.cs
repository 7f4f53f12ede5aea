using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;

namespace LlmAspire.Gateway.Api.OpenAi;

/// <summary>
/// An error in OpenAI's shape, <c>{"error":{"message","type","param","code"}}</c>, so that OpenAI SDKs surface it as
/// their own typed exception.
/// </summary>
internal sealed record OpenAiError(int Status, string Message, string Type, string? Param = null, string? Code = null)
{
    /// <summary>An error whose type follows from its status: <c>invalid_request_error</c> below 500, <c>server_error</c> from 500.</summary>
    public static OpenAiError Of(int status, string message, string code) =>
        new(status, message, status < StatusCodes.Status500InternalServerError ? "invalid_request_error" : "server_error", null, code);

    public static OpenAiError InvalidRequest(string message, string? param = null, string code = "invalid_request") =>
        new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static OpenAiError ModelNotFound(string model) =>
        new(StatusCodes.Status404NotFound, $"The model '{model}' does not exist or you do not have access to it.", "invalid_request_error", "model", "model_not_found");

    public static OpenAiError BodyTooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, $"The request body exceeds the limit of {limit.ToString(CultureInfo.InvariantCulture)} bytes.", "invalid_request_error", null, "request_too_large");

    /// <summary>
    /// Reads an error another server answered in this shape (vLLM, ModelManager): <c>error.message</c> must be a string;
    /// a missing <c>type</c> reads as <c>server_error</c>.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> json, int status, [NotNullWhen(true)] out OpenAiError? error)
    {
        error = null;
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("error", out var body)
                || body.ValueKind != JsonValueKind.Object
                || Text(body, "message") is not { } message)
            {
                return false;
            }

            error = new OpenAiError(status, message, Text(body, "type") ?? "server_error", Text(body, "param"), Text(body, "code"));
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Writes the error as the whole response, with <c>Retry-After</c> when <paramref name="retryAfter"/> is given.</summary>
    public Task WriteAsync(HttpResponse response, TimeSpan? retryAfter = null)
    {
        response.StatusCode = Status;
        response.ContentType = "application/json";
        if (retryAfter is { } delay)
        {
            response.Headers.RetryAfter = RetryAfterSeconds(delay).ToString(CultureInfo.InvariantCulture);
        }

        return response.Body.WriteAsync(ToJson(), response.HttpContext.RequestAborted).AsTask();
    }

    /// <summary>The same error as one server-sent event followed by the stream terminator, for a stream already under way.</summary>
    public byte[] ToServerSentEvents()
    {
        var json = ToJson();
        var bytes = new byte["data: "u8.Length + json.Length + "\n\ndata: [DONE]\n\n"u8.Length];
        "data: "u8.CopyTo(bytes);
        json.CopyTo(bytes, "data: "u8.Length);
        "\n\ndata: [DONE]\n\n"u8.CopyTo(bytes.AsSpan("data: "u8.Length + json.Length));
        return bytes;
    }

    /// <summary>
    /// Writes the error as the end of a response already started with 200: on an event stream, the event that ends it
    /// (<see cref="ToServerSentEvents"/>); on a JSON response (so far whitespace kept it alive), the error object as
    /// its body.
    /// </summary>
    public async Task WriteEndingAsync(HttpResponse response)
    {
        var aborted = response.HttpContext.RequestAborted;
        var eventStream = response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
        await response.Body.WriteAsync(eventStream ? ToServerSentEvents() : ToJson(), aborted);
        await response.Body.FlushAsync(aborted);
    }

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", Message);
            writer.WriteString("type", Type);
            WriteNullable(writer, "param", Param);
            WriteNullable(writer, "code", Code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Retry-After is whole seconds; round up so clients never come back early, and never say 0.</summary>
    public static int RetryAfterSeconds(TimeSpan delay) => Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds));

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }
}
