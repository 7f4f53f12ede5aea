using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Authentication;

/// <summary>
/// Authenticates every <c>/v1</c> request by its <c>Authorization: Bearer llma_…</c> key and records the caller in the
/// request's state (<see cref="RequestState.Caller"/>, anonymous while authentication is off); anything else is
/// answered with 401 in OpenAI's shape before a byte of the body is read.
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, IOptions<AuthOptions> options, ApiKeyAuthenticator authenticator)
{
    private static readonly TimeSpan UnavailableRetryAfter = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ThrottledRetryAfter = TimeSpan.FromSeconds(1);

    // Not async when authentication is off: no state machine and no extra continuation on every request.
    public Task InvokeAsync(HttpContext context) => options.Value.Enabled ? AuthenticateAsync(context) : next(context);

    private async Task AuthenticateAsync(HttpContext context)
    {
        var presented = BearerToken(context.Request);
        if (presented is null)
        {
            await Unauthorized(context, "You didn't provide an API key. Send it as 'Authorization: Bearer llma_…'.", "missing_api_key");
            return;
        }

        var (outcome, caller) = await authenticator.AuthenticateAsync(presented, context.RequestAborted);
        switch (outcome)
        {
            case AuthenticationOutcome.Valid:
                RequestState.Of(context).Caller = caller!;
                await next(context);
                break;
            case AuthenticationOutcome.Unavailable:
                await new OpenAiError(StatusCodes.Status503ServiceUnavailable, "API keys cannot be checked right now (the key store is unreachable).",
                    "server_error", null, "auth_unavailable").WriteAsync(context.Response, UnavailableRetryAfter);
                break;
            case AuthenticationOutcome.Throttled:
                await new OpenAiError(StatusCodes.Status503ServiceUnavailable, "Too many keys this gateway has not seen yet are being checked; try again shortly.",
                    "server_error", null, "auth_busy").WriteAsync(context.Response, ThrottledRetryAfter);
                break;
            default:
                await Unauthorized(context, "Incorrect API key provided, or the key has been revoked.", "invalid_api_key");
                break;
        }
    }

    /// <summary>The token of an <c>Authorization: Bearer</c> header, or null.</summary>
    internal static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    internal static Task Unauthorized(HttpContext context, string message, string code)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return new OpenAiError(StatusCodes.Status401Unauthorized, message, "invalid_request_error", null, code).WriteAsync(context.Response);
    }
}
