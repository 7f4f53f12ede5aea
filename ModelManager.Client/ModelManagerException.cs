using System.Globalization;
using System.Net;
using System.Text.Json;

namespace LlmAspire.ModelManager.Client;

/// <summary>
/// ModelManager answered with an error status. Its message is <see cref="HttpResponseMessage.EnsureSuccessStatusCode"/>'s;
/// what ModelManager said is in <see cref="Error"/> (or, for a body not of the API's error shape, <see cref="Body"/>).
/// </summary>
public sealed class ModelManagerException : HttpRequestException
{
    private ModelManagerException(HttpStatusCode status, string? reasonPhrase, ApiErrorBody? error, string body, TimeSpan? retryAfter)
        : base(Describe(status, reasonPhrase), null, status)
    {
        Error = error;
        Body = body;
        RetryAfter = retryAfter;
    }

    /// <summary>The API's error (<c>message</c>, <c>type</c>, <c>code</c>); null when the body was not of that shape.</summary>
    public ApiErrorBody? Error { get; }

    /// <summary>The response body as text.</summary>
    public string Body { get; }

    /// <summary>The answer's <c>Retry-After</c>, when it gave one in seconds (503 and 504 do).</summary>
    public TimeSpan? RetryAfter { get; }

    internal static async Task<ModelManagerException> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return new ModelManagerException(response.StatusCode, response.ReasonPhrase, ParseError(body), body, response.Headers.RetryAfter?.Delta);
    }

    private static ApiErrorBody? ParseError(string body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, ModelManagerJsonContext.Default.ApiError)?.Error is { Message: not null } error ? error : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Describe(HttpStatusCode status, string? reasonPhrase) => string.IsNullOrWhiteSpace(reasonPhrase)
        ? string.Create(CultureInfo.InvariantCulture, $"Response status code does not indicate success: {(int)status}.")
        : string.Create(CultureInfo.InvariantCulture, $"Response status code does not indicate success: {(int)status} ({reasonPhrase}).");
}
