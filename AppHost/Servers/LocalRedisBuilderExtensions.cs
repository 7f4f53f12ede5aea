using System.Runtime.Versioning;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.AppHost.Servers;

[UnsupportedOSPlatform("windows")]
internal static class LocalRedisBuilderExtensions
{
    /// <summary>
    /// Adds <c>redis-server</c> as a local process listening on 127.0.0.1, its data (a snapshot every minute while
    /// written to) in <paramref name="dataDirectory"/>, the password in a configuration file there rather than on its
    /// command line; healthy once <c>AUTH</c> + <c>PING</c> succeed, as Aspire's container is.
    /// </summary>
    public static IResourceBuilder<LocalRedisResource> AddLocalRedis(this IDistributedApplicationBuilder builder, string name, string dataDirectory)
    {
        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password", special: false);
        var redis = new LocalRedisResource(name, dataDirectory, password);
        var configFile = Path.Combine(dataDirectory, "redis.conf");

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, async (_, cancellationToken) =>
        {
            LocalServerBinaries.Require("redis-server", "redis-server");
            Directory.CreateDirectory(dataDirectory);
            // Written at every start: the password parameter is the one truth, whatever an earlier run used.
            await File.WriteAllTextAsync(configFile, string.Join('\n',
                "bind 127.0.0.1",
                "protected-mode yes",
                $"requirepass \"{await password.GetValueAsync(cancellationToken)}\"",
                $"dir \"{dataDirectory}\"",
                "save 60 1",
                "appendonly no",
                ""), cancellationToken);
            File.SetUnixFileMode(configFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        });

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(redis, async (_, cancellationToken) =>
            connectionString = await redis.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException($"The connection string of '{name}' is not available yet."), name: healthCheck);

        return builder.AddResource(redis)
            .WithEndpoint(name: LocalRedisResource.PrimaryEndpointName, scheme: "tcp")
            .WithArgs(context =>
            {
                context.Args.Add(configFile);
                context.Args.Add("--port");
                context.Args.Add(redis.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
            })
            .WithIconName("Database")
            .WithHealthCheck(healthCheck)
            .ExcludeFromManifest();
    }
}
