using System.Text;
using System.Text.Json;

namespace LlmAspire.TestToolkit.HostileInput;

/// <summary>Checks that an answer's body is a service's documented error: <c>{"error":{…}}</c> with the given members.</summary>
public static class ErrorShape
{
    /// <summary>The gateway's (OpenAI's) members: every one must be present, <c>message</c> and <c>type</c> as non-empty strings.</summary>
    public static readonly string[] OpenAi = ["message", "type", "param", "code"];

    /// <summary>ModelManager's members (docs/modelmanager.md).</summary>
    public static readonly string[] ModelManager = ["message", "type", "code"];

    /// <summary>
    /// Null when <paramref name="response"/> is what hostile input may get: not a 5xx, and an error body of the shape
    /// when it is an error; otherwise what is wrong, with the start of the body.
    /// </summary>
    public static async Task<string?> ProblemAsync(HttpResponseMessage response, IReadOnlyList<string> members, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var status = (int)response.StatusCode;
        var problem = status >= 500 ? $"status {status}" : status >= 400 ? Problem(body, members) : null;
        return problem is null ? null : $"{problem}: {Encoding.UTF8.GetString(body[..Math.Min(body.Length, 300)])}";
    }

    /// <summary>Null when <paramref name="body"/> has the shape, otherwise what is wrong with it.</summary>
    public static string? Problem(ReadOnlySpan<byte> body, IReadOnlyList<string> members)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            if (!document.RootElement.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
            {
                return "no 'error' object";
            }

            foreach (var member in members)
            {
                if (!error.TryGetProperty(member, out var value))
                {
                    return $"no 'error.{member}'";
                }

                // A code may be a number or null: model servers (vLLM) put the status there, and the gateway passes their errors on.
                if (member is "message" or "type" && (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 }))
                {
                    return $"'error.{member}' is not a non-empty string";
                }
            }

            return null;
        }
        catch (JsonException exception)
        {
            return $"not JSON: {exception.Message}";
        }
    }
}
