using System.Net.Sockets;
using System.Text;
using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.Hosting;

/// <summary>Redis, password-protected, reached through <c>ConnectionStrings__&lt;name&gt;</c> in StackExchange.Redis form.</summary>
public sealed class RedisResource(string name, ParameterResource password)
    : ContainerResource(name, $"{RedisContainerImageTags.Registry}/{RedisContainerImageTags.Image}", RedisContainerImageTags.Tag, entrypoint: "/bin/sh"),
      IResourceWithConnectionString
{
    public const int DefaultPort = 6379;

    public ParameterResource Password { get; } = password;

    public EndpointReference PrimaryEndpoint => this.GetEndpoint("tcp");

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{PrimaryEndpoint.Property(EndpointProperty.Host)}:{PrimaryEndpoint.Property(EndpointProperty.Port)},password={Password}");
}

/// <summary>The image the resource runs (named as in Aspire); the tests import one under the same name.</summary>
internal static class RedisContainerImageTags
{
    public const string Registry = "docker.io";
    public const string Image = "library/redis";
    public const string Tag = "8.2";
}

public static class RedisBuilderExtensions
{
    // exec: redis-server replaces the shell as the container's PID 1 and so receives the stop signal, which the shell
    // (PID 1 ignores signals it has no handler for) would neither act on nor pass on.
    private const string RedisServerCommand = "exec redis-server --requirepass $REDIS_PASSWORD";

    /// <summary>
    /// Redis as a container (<c>redis:8.2</c>) or, without Docker or the image, the local <c>redis-server</c> in a
    /// private directory; healthy once it answers PING. The password is generated unless given.
    /// </summary>
    public static IResourceBuilder<RedisResource> AddRedis(this IDistributedApplicationBuilder builder, string name, IResourceBuilder<ParameterResource>? password = null)
    {
        password ??= builder.AddParameter($"{name}-password", new GenerateParameterDefault(MinLength: 22));
        var redis = new RedisResource(name, password.Resource);
        var resource = builder.AddResource(redis)
            .WithEndpoint("tcp", "tcp", RedisResource.DefaultPort)
            .WithEnvironment("REDIS_PASSWORD", password.Resource)
            .WithArgs(context =>
            {
                context.Args.Add("-c");
                // Run here, the container shares the host's network (an engine may have no bridge): it listens on its
                // allocated port, on loopback only.
                context.Args.Add(context.Operation == DistributedApplicationOperation.Publish
                    ? RedisServerCommand
                    : ReferenceExpression.Create($"{RedisServerCommand} --bind 127.0.0.1 --port {redis.PrimaryEndpoint.Property(EndpointProperty.Port)}"));
            })
            .WithHealthCheck("PING", cancellationToken => PingAsync(redis, cancellationToken));
        resource.Resource.Annotations.Add(new LocalServerAnnotation("redis-server", "redis-server", ["/usr/bin", "/usr/local/bin"],
            (context, cancellationToken) => PrepareLocalServerAsync(redis, context, cancellationToken)));
        return resource;
    }

    private static async Task<ProcessSpec> PrepareLocalServerAsync(RedisResource redis, LocalServerContext context, CancellationToken cancellationToken)
    {
        // The password goes in a file only the owner reads, not on the command line where ps shows it.
        var configuration = Path.Combine(context.DataDirectory, "redis.conf");
        var password = redis.Password.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
        await using (var file = new FileStream(configuration, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        await using (var writer = new StreamWriter(file))
        {
            await writer.WriteAsync($"""
                port {context.Port}
                bind 127.0.0.1
                dir "{context.DataDirectory}"
                save ""
                appendonly no
                daemonize no
                requirepass "{password}"

                """.AsMemory(), cancellationToken);
        }

        return new ProcessSpec(context.BinaryPath, [configuration]);
    }

    private static async Task<bool> PingAsync(RedisResource redis, CancellationToken cancellationToken)
    {
        var allocated = redis.PrimaryEndpoint.Annotation.Allocated!;
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(allocated.Host, allocated.Port, cancellationToken);
            var stream = client.GetStream();
            var password = redis.Password.Value;
            await stream.WriteAsync(Encoding.UTF8.GetBytes(
                $"*2\r\n$4\r\nAUTH\r\n${Encoding.UTF8.GetByteCount(password)}\r\n{password}\r\n*1\r\n$4\r\nPING\r\n"), cancellationToken);
            var answer = new StringBuilder();
            var buffer = new byte[256];
            while (!answer.ToString().Contains("+PONG", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, cancellationToken);
                if (read == 0 || answer.Append(Encoding.UTF8.GetString(buffer, 0, read)).ToString().StartsWith('-'))
                {
                    return false;
                }
            }

            return true;
        }
        catch (Exception exception) when (exception is SocketException or IOException)
        {
            return false;
        }
    }
}
