using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmAspire.AppHost.Servers;

/// <summary>Redis and PostgreSQL as Aspire containers or as local processes, as <see cref="ServerHostingChoice"/> settles it.</summary>
internal sealed class PlatformServers
{
    private PlatformServers(IDistributedApplicationBuilder builder, ServerHosting hosting, string dataDirectory)
    {
        Builder = builder;
        Hosting = hosting;
        DataDirectory = dataDirectory;
    }

    public IDistributedApplicationBuilder Builder { get; }

    public ServerHosting Hosting { get; }

    /// <summary>The AppHost's kept state: local servers' data and the developer API key.</summary>
    public string DataDirectory { get; }

    /// <summary>A file or folder of the kept state.</summary>
    public string DataPath(string name) => Path.Combine(DataDirectory, name);

    public static PlatformServers Choose(IDistributedApplicationBuilder builder)
    {
        var settings = PlatformSettings.Read(builder.Configuration);
        var servers = new PlatformServers(
            builder,
            // Local processes are a Linux and macOS path; Windows developers run Aspire's containers.
            OperatingSystem.IsWindows() ? ServerHosting.Containers : ServerHostingChoice.Resolve(builder, settings),
            Path.GetFullPath(settings.DataDirectory ?? DefaultDataDirectory(builder.AppHostDirectory)));
        if (builder.ExecutionContext.IsRunMode)
        {
            builder.Eventing.Subscribe<BeforeStartEvent>((e, _) =>
            {
                e.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LlmAspire.AppHost").LogInformation(
                    "Redis and PostgreSQL run as {Hosting} (LlmAspire:ServerHosting); kept data: {DataDirectory}", servers.Hosting, servers.DataDirectory);
                return Task.CompletedTask;
            });
        }

        return servers;
    }

    public IResourceBuilder<IResourceWithConnectionString> AddRedis(string name) => Hosting == ServerHosting.Containers || OperatingSystem.IsWindows()
        ? Builder.AddRedis(name).WithDataVolume()
        : Builder.AddLocalRedis(name, DataPath(name));

    public IResourceBuilder<IResourceWithConnectionString> AddPostgresDatabase(string serverName, string databaseName) =>
        Hosting == ServerHosting.Containers || OperatingSystem.IsWindows()
            ? Builder.AddPostgres(serverName).WithDataVolume().AddDatabase(databaseName)
            : Builder.AddLocalPostgres(serverName, DataPath(serverName)).AddDatabase(databaseName);

    /// <summary>One folder per AppHost checkout, outside it (a clean checkout keeps its data) and reachable by the postgres user.</summary>
    private static string DefaultDataDirectory(string appHostDirectory)
    {
        var root = Environment.IsPrivilegedProcess
            ? "/var/lib/llmaspire"
            : Path.Combine(
                Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } dataHome
                    ? dataHome
                    : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share"),
                "llmaspire");
        var checkout = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(appHostDirectory))))[..10];
        return Path.Combine(root, $"apphost-{checkout}");
    }
}
