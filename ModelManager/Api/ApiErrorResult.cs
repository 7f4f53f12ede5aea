using System.Globalization;
using LlmAspire.ModelManager.Client;

namespace LlmAspire.ModelManager.Api;

/// <summary>
/// An error of the API, in the gateway's (OpenAI's) shape: <c>{"error":{"message","type","code"}}</c>, with
/// <c>Retry-After</c> (seconds) when asking again later makes sense.
/// </summary>
internal sealed class ApiErrorResult(int status, string message, string code, TimeSpan? retryAfter = null) : IResult
{
    public static ApiError Body(int status, string message, string code) =>
        new(new ApiErrorBody(message, status >= 500 ? "server_error" : "invalid_request_error", code));

    public Task ExecuteAsync(HttpContext httpContext)
    {
        if (retryAfter is { } delay)
        {
            httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        return Results.Json(Body(status, message, code), ModelManagerJsonContext.Default.ApiError, statusCode: status).ExecuteAsync(httpContext);
    }
}
