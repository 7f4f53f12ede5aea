using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Authentication;

internal static class AuthenticationExtensions
{
    /// <summary>Registers API key authentication (needs <c>ConnectionStrings:gatewaydb</c> unless <c>Gateway:Auth:Enabled</c> is false).</summary>
    public static IHostApplicationBuilder AddApiKeys(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<AuthOptions>(AuthOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddSingleton<ApiKeyAuthenticator>();
        return builder;
    }

    /// <summary>Requires an API key on every <c>/v1</c> request (the OpenAI-compatible API); health and admin paths have their own rules.</summary>
    public static IApplicationBuilder UseApiKeys(this IApplicationBuilder app) =>
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/v1"), branch => branch.UseMiddleware<ApiKeyMiddleware>());
}
