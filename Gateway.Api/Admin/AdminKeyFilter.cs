using System.Security.Cryptography;
using System.Text;
using LlmAspire.Gateway.Api.Authentication;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Admin;

/// <summary>
/// Lets through only requests bearing <c>Gateway:Auth:AdminKey</c> (compared in constant time); without a configured
/// admin key the admin API is closed to everyone. API keys never open it, whatever their tenant.
/// </summary>
internal sealed class AdminKeyFilter(IOptions<AuthOptions> options) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        if (options.Value.AdminKey is not { Length: > 0 } adminKey)
        {
            await ApiKeyMiddleware.Unauthorized(context, $"The admin API is disabled: set {AuthOptions.SectionName}:AdminKey.", "admin_disabled");
            return Results.Empty;
        }

        if (ApiKeyMiddleware.BearerToken(context.Request) is not { } presented || !SameSecret(presented, adminKey.Trim()))
        {
            await ApiKeyMiddleware.Unauthorized(context, "The admin API requires 'Authorization: Bearer <admin key>'.", "invalid_admin_key");
            return Results.Empty;
        }

        return await next(invocation);
    }

    /// <summary>Hashing first gives both sides one length, so the comparison time says nothing about either.</summary>
    private static bool SameSecret(string presented, string expected) => CryptographicOperations.FixedTimeEquals(
        SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}

/// <summary>
/// Answers 503 for the admin calls (all of which read or write PostgreSQL) when no database is configured, and when
/// it cannot be reached (with <c>Retry-After</c>): an outage is not a fault of the gateway's.
/// </summary>
internal sealed partial class AdminStorageFilter(GatewayDatabase database, ILogger<AdminStorageFilter> logger) : IEndpointFilter
{
    private static readonly TimeSpan UnavailableRetryAfter = TimeSpan.FromSeconds(5);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var response = invocation.HttpContext.Response;
        if (!database.IsConfigured)
        {
            await new OpenAiError(StatusCodes.Status503ServiceUnavailable,
                $"The admin API needs PostgreSQL: set ConnectionStrings:{GatewayDatabase.ConnectionStringName}.", "server_error", null, "storage_not_configured")
                .WriteAsync(response);
            return Results.Empty;
        }

        try
        {
            return await next(invocation);
        }
        catch (Exception exception) when (GatewayDatabase.IsUnavailable(exception) && !response.HasStarted)
        {
            LogUnavailable(logger, invocation.HttpContext.Request.Path, exception.Message);
            await new OpenAiError(StatusCodes.Status503ServiceUnavailable, "PostgreSQL cannot be reached right now; the admin API's keys and usage need it.",
                "server_error", null, "storage_unavailable").WriteAsync(response, UnavailableRetryAfter);
            return Results.Empty;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin call {Path} answered 503: PostgreSQL is unreachable ({Reason})")]
    private static partial void LogUnavailable(ILogger logger, string path, string reason);
}
