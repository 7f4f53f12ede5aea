using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmAspire.AppHost.Gateway;

internal static class GatewayBuilderExtensions
{
    /// <summary>
    /// A dashboard command on the gateway that creates an API key (tenant <c>developer</c>) and shows it once, in a
    /// dialog: the gateway keeps only its hash.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithCreateApiKeyCommand(
        this IResourceBuilder<ProjectResource> gateway, IResourceBuilder<ParameterResource> adminKey)
    {
        gateway.ApplicationBuilder.Services.AddHttpClient();
        return gateway.WithCommand("create-api-key", "Create API key", async context =>
        {
            var admin = new GatewayAdminApi(context.Services.GetRequiredService<IHttpClientFactory>().CreateClient(), gateway.Resource, adminKey.Resource);
            try
            {
                var key = await admin.CreateKeyAsync($"created in the dashboard {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss}Z", context.CancellationToken);
                return CommandResults.Success("API key created. Copy it now: it is not shown again.", key, CommandResultFormat.Text, displayImmediately: true);
            }
            catch (HttpRequestException exception)
            {
                return CommandResults.Failure(exception.Message);
            }
        }, new CommandOptions
        {
            Description = "Create an API key for tenant 'developer' and show it once.",
            IconName = "Key",
            IsHighlighted = true,
            UpdateState = context => context.ResourceSnapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy
                ? ResourceCommandState.Enabled
                : ResourceCommandState.Disabled,
        });
    }

    /// <summary>
    /// Once the gateway is first healthy, prints its URL and a curl that works, with the developer API key kept in
    /// <paramref name="keyFile"/> (created, or made again when the gateway no longer accepts it).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithDeveloperWelcome(
        this IResourceBuilder<ProjectResource> gateway, IResourceBuilder<ParameterResource> adminKey, string keyFile, string model)
    {
        var welcomed = 0;
        return gateway.OnResourceReady(async (resource, e, cancellationToken) =>
        {
            if (Interlocked.Exchange(ref welcomed, 1) == 1)
            {
                return;
            }

            var admin = new GatewayAdminApi(e.Services.GetRequiredService<IHttpClientFactory>().CreateClient(), resource, adminKey.Resource);
            var logger = e.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LlmAspire.AppHost");
            try
            {
                var key = await DeveloperKeyAsync(admin, keyFile, cancellationToken);
                var url = resource.GetEndpoint("http").Url;
                logger.LogInformation(
                    """
                    Gateway: {Url}  (API key in {KeyFile}; more from the gateway's "Create API key" command in the dashboard)
                      curl -s {Url}/v1/chat/completions -H 'Authorization: Bearer {Key}' -H 'Content-Type: application/json' \
                        -d '{{"model":"{Model}","temperature":0,"messages":[{{"role":"user","content":"Hello"}}]}}'
                    """,
                    url, keyFile, url, key, model);
            }
            catch (HttpRequestException exception)
            {
                logger.LogWarning("No developer API key: {Reason}", exception.Message);
            }
        });
    }

    private static async Task<string> DeveloperKeyAsync(GatewayAdminApi admin, string keyFile, CancellationToken cancellationToken)
    {
        if (File.Exists(keyFile) && (await File.ReadAllTextAsync(keyFile, cancellationToken)).Trim() is { Length: > 0 } kept
            && await admin.AcceptsAsync(kept, cancellationToken))
        {
            return kept;
        }

        var key = await admin.CreateKeyAsync("AppHost developer key", cancellationToken);
        Directory.CreateDirectory(Path.GetDirectoryName(keyFile)!);
        await File.WriteAllTextAsync(keyFile, key + "\n", cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return key;
    }
}
