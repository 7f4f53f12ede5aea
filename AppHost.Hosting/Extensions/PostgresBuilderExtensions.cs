using System.Globalization;
using LlmAspire.Hosting.ApplicationModel;
using LlmAspire.Hosting.Orchestration;
using Npgsql;

namespace LlmAspire.Hosting;

/// <summary>A PostgreSQL server; its connection string (Npgsql form) names no database.</summary>
public sealed class PostgresServerResource(string name, ParameterResource password)
    : ContainerResource(name, "docker.io/library/postgres", "17.6"), IResourceWithConnectionString
{
    public const string UserName = "postgres";

    public ParameterResource Password { get; } = password;

    public EndpointReference PrimaryEndpoint => this.GetEndpoint("tcp");

    public List<PostgresDatabaseResource> Databases { get; } = [];

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={UserName};Password={Password}");
}

/// <summary>A database inside a PostgreSQL server, created when the server is ready (<c>value.v0</c> in the manifest).</summary>
public sealed class PostgresDatabaseResource(string name, string databaseName, PostgresServerResource parent)
    : Resource(name), IResourceWithParent, IResourceWithConnectionString
{
    public string DatabaseName { get; } = databaseName;

    public PostgresServerResource Server { get; } = parent;

    public IResource Parent => Server;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{new ConnectionStringReference(Server)};Database={DatabaseName}");
}

public static class PostgresBuilderExtensions
{
    private static readonly TimeSpan InitDbTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// PostgreSQL as a container (<c>postgres:17.6</c>) or, without Docker or the image, the local
    /// <c>initdb</c>/<c>postgres</c> (as the <c>postgres</c> user under root) in a private data directory; healthy once
    /// <c>SELECT 1</c> works. The password is generated unless given.
    /// </summary>
    public static IResourceBuilder<PostgresServerResource> AddPostgres(this IDistributedApplicationBuilder builder, string name, IResourceBuilder<ParameterResource>? password = null)
    {
        password ??= builder.AddParameter($"{name}-password", new GenerateParameterDefault(MinLength: 22));
        var server = new PostgresServerResource(name, password.Resource);
        var resource = builder.AddResource(server)
            .WithEndpoint("tcp", "tcp", 5432)
            .WithEnvironment("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256")
            .WithEnvironment("POSTGRES_INITDB_ARGS", "--auth-host=scram-sha-256 --auth-local=scram-sha-256")
            .WithEnvironment("POSTGRES_USER", PostgresServerResource.UserName)
            .WithEnvironment("POSTGRES_PASSWORD", password.Resource)
            .WithArgs(context =>
            {
                if (context.Operation == DistributedApplicationOperation.Run)
                {
                    // Run here, the container shares the host's network (an engine may have no bridge): the server
                    // listens on its allocated port, on loopback only. The image's entrypoint hands options to postgres.
                    context.Args.AddRange(["-c", "listen_addresses=127.0.0.1", "-p", server.PrimaryEndpoint.Property(EndpointProperty.Port)]);
                }
            })
            .WithHealthCheck("SELECT 1", cancellationToken => SelectOneAsync(server, cancellationToken))
            .OnResourceReady((server, _, cancellationToken) => CreateDatabasesAsync(server, cancellationToken));
        server.Annotations.Add(new LocalServerAnnotation("postgres", "postgresql", BinaryDirectories(),
            (context, cancellationToken) => PrepareLocalServerAsync(server, context, cancellationToken)));
        return resource;
    }

    /// <summary>A database of the server: created when the server is ready, healthy once it can be queried.</summary>
    public static IResourceBuilder<PostgresDatabaseResource> AddDatabase(this IResourceBuilder<PostgresServerResource> server, string name, string? databaseName = null)
    {
        var database = new PostgresDatabaseResource(name, databaseName ?? name, server.Resource);
        server.Resource.Databases.Add(database);
        var resource = server.ApplicationBuilder.AddResource(database)
            .WithHealthCheck("SELECT 1", cancellationToken => SelectOneAsync(database, cancellationToken));
        database.Annotations.Add(new WaitAnnotation(server.Resource));
        return resource;
    }

    private static async Task<bool> SelectOneAsync(IResourceWithConnectionString resource, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(await resource.ConnectionStringExpression.GetValueAsync(cancellationToken) + ";Pooling=false;Timeout=5");
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            return Equals(await command.ExecuteScalarAsync(cancellationToken), 1);
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    private static async Task CreateDatabasesAsync(PostgresServerResource server, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(await server.ConnectionStringExpression.GetValueAsync(cancellationToken) + ";Pooling=false");
        await connection.OpenAsync(cancellationToken);
        foreach (var database in server.Databases)
        {
            await using var exists = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = @name", connection);
            exists.Parameters.AddWithValue("name", database.DatabaseName);
            if (Convert.ToInt64(await exists.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 0)
            {
                var quoted = "\"" + database.DatabaseName.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
                await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        }
    }

    /// <summary>Debian installs PostgreSQL under /usr/lib/postgresql/&lt;version&gt;/bin; the newest wins.</summary>
    private static string[] BinaryDirectories() => Directory.Exists("/usr/lib/postgresql")
        ? [.. Directory.GetDirectories("/usr/lib/postgresql")
            .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var version) ? version : 0)
            .Select(d => Path.Combine(d, "bin"))]
        : [];

    private static async Task<ProcessSpec> PrepareLocalServerAsync(PostgresServerResource server, LocalServerContext context, CancellationToken cancellationToken)
    {
        var data = Path.Combine(context.DataDirectory, "data");
        var passwordFile = Path.Combine(context.DataDirectory, "password");
        await File.WriteAllTextAsync(passwordFile, server.Password.Value, cancellationToken);
        File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (Native.IsRoot)
        {
            // PostgreSQL refuses to run as root; Debian's package has a postgres user for it.
            await Commands.RunCheckedAsync("chown", ["-R", "postgres:postgres", context.DataDirectory], InitDbTimeout, cancellationToken);
        }

        try
        {
            var initdb = Path.Combine(Path.GetDirectoryName(context.BinaryPath)!, "initdb");
            var (fileName, arguments) = AsServerUser(initdb,
                ["-D", data, "-U", PostgresServerResource.UserName, "--auth=scram-sha-256", $"--pwfile={passwordFile}", "-E", "UTF8", "--no-sync", "--no-instructions"]);
            await Commands.RunCheckedAsync(fileName, arguments, InitDbTimeout, cancellationToken);
        }
        finally
        {
            File.Delete(passwordFile);
        }

        var (postgres, serverArguments) = AsServerUser(context.BinaryPath,
            ["-D", data, "-p", context.Port.ToString(CultureInfo.InvariantCulture), "-c", "listen_addresses=127.0.0.1",
             "-c", $"unix_socket_directories={context.DataDirectory}"]);
        // SIGINT is PostgreSQL's fast shutdown: sessions are cut, nothing is left half-written.
        return new ProcessSpec(postgres, serverArguments, StopSignal: Signals.Interrupt);
    }

    private static (string FileName, string[] Arguments) AsServerUser(string binary, string[] arguments) => Native.IsRoot
        ? ("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", binary, .. arguments])
        : (binary, arguments);
}
