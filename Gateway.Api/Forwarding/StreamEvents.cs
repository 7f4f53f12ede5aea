using System.Text.Json;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>What accounting needs to know about one server-sent event of a model server's stream, found without parsing most of them.</summary>
internal static class StreamEvents
{
    /// <summary>
    /// Whether the event hands out generated text: a non-empty <c>content</c>, <c>text</c> or tool-call
    /// <c>arguments</c> string (an empty one, as in the role chunk or the last chunk, is not a token).
    /// </summary>
    public static bool CarriesText(ReadOnlySpan<byte> serverSentEvent) =>
        NonEmptyString(serverSentEvent, "\"content\":\""u8)
        || NonEmptyString(serverSentEvent, "\"text\":\""u8)
        || NonEmptyString(serverSentEvent, "\"arguments\":\""u8);

    /// <summary>
    /// The status of an error event (<c>data: {"error": {…}}</c>, as vLLM ends a stream that fails): its numeric
    /// <c>code</c> when that is an error status, otherwise 502 (the model server failed); null for any other event.
    /// </summary>
    public static int? ErrorStatus(ReadOnlySpan<byte> serverSentEvent)
    {
        var data = serverSentEvent.IndexOf("data:"u8);
        if (data < 0 || serverSentEvent.IndexOf("\"error\""u8) < 0)
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(serverSentEvent[(data + 5)..].TrimStart(" "u8));
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("error", out var error))
            {
                return null;
            }

            return error.ValueKind == JsonValueKind.Object && error.TryGetProperty("code", out var code)
                && code.ValueKind == JsonValueKind.Number && code.TryGetInt32(out var status) && status is >= 400 and <= 599
                    ? status
                    : StatusCodes.Status502BadGateway;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool NonEmptyString(ReadOnlySpan<byte> serverSentEvent, ReadOnlySpan<byte> member)
    {
        var at = serverSentEvent.IndexOf(member);
        return at >= 0 && at + member.Length < serverSentEvent.Length && serverSentEvent[at + member.Length] != (byte)'"';
    }
}
