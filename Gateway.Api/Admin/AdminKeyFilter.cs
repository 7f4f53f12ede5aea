using System.Security.Cryptography;
using System.Text;
using LlmAspire.Gateway.Authentication;
using LlmAspire.Gateway.OpenAi;
using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Admin;

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

/// <summary>Answers 503 for the admin calls (all of which read or write PostgreSQL) when no database is configured.</summary>
internal sealed class AdminStorageFilter(GatewayDatabase database) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        if (!database.IsConfigured)
        {
            await new OpenAiError(StatusCodes.Status503ServiceUnavailable,
                $"The admin API needs PostgreSQL: set ConnectionStrings:{GatewayDatabase.ConnectionStringName}.", "server_error", null, "storage_not_configured")
                .WriteAsync(invocation.HttpContext.Response);
            return Results.Empty;
        }

        return await next(invocation);
    }
}
