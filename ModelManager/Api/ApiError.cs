using System.Globalization;
using System.Text.Json;

namespace LlmAspire.ModelManager.Api;

/// <summary>
/// Every error of the API, in the gateway's (OpenAI's) shape: <c>{"error":{"message","type","code"}}</c>, with
/// <c>Retry-After</c> (seconds) when asking again later makes sense.
/// </summary>
public sealed record ApiError(ApiErrorBody Error)
{
    public static IResult Result(int status, string message, string code, TimeSpan? retryAfter = null) =>
        new ErrorResult(status, Of(status, message, code), retryAfter);

    public static ApiError Of(int status, string message, string code) =>
        new(new ApiErrorBody(message, status >= 500 ? "server_error" : "invalid_request_error", code));

    private sealed class ErrorResult(int status, ApiError error, TimeSpan? retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (retryAfter is { } delay)
            {
                httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            }

            return Results.Json(error, statusCode: status).ExecuteAsync(httpContext);
        }
    }
}

public sealed record ApiErrorBody(string Message, string Type, string Code);
