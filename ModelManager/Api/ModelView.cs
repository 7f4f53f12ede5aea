using LlmAspire.ModelManager.Lifecycle;

namespace LlmAspire.ModelManager.Api;

/// <summary>A model as the API shows it.</summary>
public sealed record ModelView(
    string Id,
    string State,
    Uri? Endpoint,
    int InFlight,
    DateTimeOffset? LastActivity,
    DateTimeOffset? LoadedSince,
    double? LastColdStartSeconds,
    string? LastError,
    int MaxConcurrency,
    double IdleTimeoutSeconds,
    long Version)
{
    public static ModelView Of(ManagedModel model, ActivityTracker activity)
    {
        var last = activity.LastActivity(model.Id);
        return new ModelView(
            model.Id,
            model.State.ToString(),
            model.Endpoint,
            activity.InFlight(model.Id),
            last == DateTimeOffset.MinValue ? null : last,
            model.LoadedSince,
            model.LastColdStart?.TotalSeconds,
            model.LastError,
            model.Options.MaxConcurrency,
            model.Options.IdleTimeout.TotalSeconds,
            model.Version);
    }
}

/// <summary>A batch of activity from one gateway replica.</summary>
public sealed record ActivityReport(string Replica, Dictionary<string, ModelActivity> Models);

/// <summary>Errors in the same shape as the gateway's: <c>{"error":{"message","type","code"}}</c>.</summary>
public sealed record ApiError(ApiErrorBody Error)
{
    public static IResult Result(int status, string message, string code, TimeSpan? retryAfter = null) =>
        new ErrorResult(status, new ApiError(new ApiErrorBody(message, status >= 500 ? "server_error" : "invalid_request_error", code)), retryAfter);

    private sealed class ErrorResult(int status, ApiError error, TimeSpan? retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (retryAfter is { } delay)
            {
                httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            return Results.Json(error, statusCode: status).ExecuteAsync(httpContext);
        }
    }
}

public sealed record ApiErrorBody(string Message, string Type, string Code);
