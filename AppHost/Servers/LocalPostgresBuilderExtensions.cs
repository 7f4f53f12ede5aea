using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmAspire.AppHost.Servers;

[UnsupportedOSPlatform("windows")]
internal static class LocalPostgresBuilderExtensions
{
    private const int PrepareAttempts = 30;

    // PostgreSQL refuses to run as root: under root the server runs as the postgres user that Debian's package creates.
    private static readonly string[] AsPostgresUser = ["--reuid=postgres", "--regid=postgres", "--init-groups", "--"];

    /// <summary>
    /// Adds PostgreSQL as a local process listening on 127.0.0.1, its cluster in <paramref name="dataDirectory"/>
    /// (created by <c>initdb</c> on first start and kept). Password logins over TCP; over its private Unix socket the
    /// AppHost connects without one, to check health and to set the password parameter's current value at every start
    /// (so a cluster always accepts the password services are given, even after the secrets were reset).
    /// </summary>
    public static IResourceBuilder<LocalPostgresResource> AddLocalPostgres(this IDistributedApplicationBuilder builder, string name, string dataDirectory)
    {
        var bin = LocalServerBinaries.PostgresBin();
        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password");
        var asRoot = Environment.IsPrivilegedProcess;
        var postgres = new LocalPostgresResource(name, asRoot ? "setpriv" : Path.Combine(bin, "postgres"), dataDirectory, password);

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(postgres, async (e, cancellationToken) =>
        {
            var logger = e.Services.GetRequiredService<ResourceLoggerService>().GetLogger(postgres);
            await InitializeClusterAsync(postgres, bin, asRoot, logger, cancellationToken);
        });

        // A connection of its own each time: the port changes from run to run, and a pooled data source would keep the first.
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, async cancellationToken =>
        {
            try
            {
                await using var connection = new NpgsqlConnection(AdminConnectionString(postgres));
                await connection.OpenAsync(cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or IOException)
            {
                return HealthCheckResult.Unhealthy(exception.Message);
            }
        });
        builder.Eventing.Subscribe<ResourceReadyEvent>(postgres, async (e, cancellationToken) =>
        {
            var logger = e.Services.GetRequiredService<ResourceLoggerService>().GetLogger(postgres);
            var notifications = e.Services.GetRequiredService<ResourceNotificationService>();
            // Aspire passes a parent's state on to its children only for containers: the databases' is set here.
            var state = await PrepareAsync(postgres, logger, cancellationToken) ? KnownResourceStates.Running : KnownResourceStates.FailedToStart;
            foreach (var database in postgres.Databases)
            {
                await notifications.PublishUpdateAsync(database, s => s with { State = state, StartTimeStamp = DateTime.UtcNow });
            }
        });

        return builder.AddResource(postgres)
            .WithEndpoint(name: LocalPostgresResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                if (asRoot)
                {
                    foreach (var argument in AsPostgresUser)
                    {
                        context.Args.Add(argument);
                    }

                    context.Args.Add(Path.Combine(bin, "postgres"));
                }

                context.Args.Add("-D");
                context.Args.Add(postgres.ClusterDirectory);
                context.Args.Add("-p");
                context.Args.Add(postgres.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("-c");
                context.Args.Add("listen_addresses=127.0.0.1");
                context.Args.Add("-c");
                context.Args.Add($"unix_socket_directories={postgres.SocketDirectory}");
            })
            .WithIconName("DatabaseStack")
            .WithHealthCheck(healthCheck)
            .ExcludeFromManifest();
    }

    /// <summary>Adds a database that is created, when missing, as soon as the server is up; healthy once a password login to it works.</summary>
    public static IResourceBuilder<LocalPostgresDatabaseResource> AddDatabase(
        this IResourceBuilder<LocalPostgresResource> server, string name, string? databaseName = null)
    {
        var database = new LocalPostgresDatabaseResource(name, databaseName ?? name, server.Resource);
        server.Resource.Databases.Add(database);
        var builder = server.ApplicationBuilder;

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(database, async (_, cancellationToken) =>
            connectionString = await database.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddNpgSql(
            _ => connectionString ?? throw new InvalidOperationException($"The connection string of '{name}' is not available yet."), name: healthCheck);

        return builder.AddResource(database)
            .WithInitialState(new CustomResourceSnapshot { ResourceType = "PostgresDatabase", State = KnownResourceStates.Waiting, Properties = [] })
            .WithIconName("Database")
            .WithHealthCheck(healthCheck)
            .ExcludeFromManifest();
    }

    private static async Task InitializeClusterAsync(LocalPostgresResource postgres, string bin, bool asRoot, ILogger logger, CancellationToken cancellationToken)
    {
        var root = postgres.WorkingDirectory;
        Directory.CreateDirectory(root);
        Directory.CreateDirectory(postgres.SocketDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (asRoot)
        {
            RequireSearchableBy("postgres", root);
            await RunAsync("chown", ["postgres:postgres", root, postgres.SocketDirectory], logger, cancellationToken);
        }

        if (File.Exists(Path.Combine(postgres.ClusterDirectory, "PG_VERSION")))
        {
            return;
        }

        var passwordFile = Path.Combine(postgres.SocketDirectory, "initdb-password");
        await File.WriteAllTextAsync(passwordFile, await postgres.PasswordParameter.GetValueAsync(cancellationToken), cancellationToken);
        try
        {
            if (asRoot)
            {
                await RunAsync("chown", ["postgres:postgres", passwordFile], logger, cancellationToken);
            }

            string[] initdb =
            [
                Path.Combine(bin, "initdb"), "-D", postgres.ClusterDirectory, "-U", LocalPostgresResource.UserName, $"--pwfile={passwordFile}",
                "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions",
            ];
            await RunAsync(asRoot ? "setpriv" : initdb[0], asRoot ? [.. AsPostgresUser, .. initdb] : initdb[1..], logger, cancellationToken);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>
    /// Sets the password parameter's value on the cluster and creates the databases that do not exist yet, trying again
    /// for a while (the server may still be finishing a recovery); false, with the reason in the server's log, if it
    /// never succeeds.
    /// </summary>
    private static async Task<bool> PrepareAsync(LocalPostgresResource postgres, ILogger logger, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await PrepareOnceAsync(postgres, cancellationToken);
                return true;
            }
            catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or IOException)
            {
                logger.LogWarning("Preparing the databases failed (attempt {Attempt}): {Reason}", attempt, exception.Message);
                if (attempt == PrepareAttempts)
                {
                    return false;
                }

                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    private static async Task PrepareOnceAsync(LocalPostgresResource postgres, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString(postgres));
        await connection.OpenAsync(cancellationToken);
        await using (var quote = new NpgsqlCommand("SELECT format('ALTER ROLE %I PASSWORD %L', @user, @password)", connection))
        {
            quote.Parameters.AddWithValue("user", LocalPostgresResource.UserName);
            quote.Parameters.AddWithValue("password", await postgres.PasswordParameter.GetValueAsync(cancellationToken) ?? "");
            await using var alter = new NpgsqlCommand((string)(await quote.ExecuteScalarAsync(cancellationToken))!, connection);
            await alter.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var database in postgres.Databases)
        {
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
            exists.Parameters.AddWithValue("name", database.DatabaseName);
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.DatabaseName.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// Over the server's Unix socket, named after the port it listens on. DCP chooses that port only as it starts the
    /// process, so it is read from the running server's <c>postmaster.pid</c> (its fourth line): a socket left behind by
    /// an earlier server that was killed can not be mistaken for it.
    /// </summary>
    private static string AdminConnectionString(LocalPostgresResource postgres) => new NpgsqlConnectionStringBuilder
    {
        Host = postgres.SocketDirectory,
        Port = ListeningPort(postgres),
        Username = LocalPostgresResource.UserName,
        Database = "postgres",
        Pooling = false,
        Timeout = 5,
    }.ConnectionString;

    private static int ListeningPort(LocalPostgresResource postgres)
    {
        var pidFile = Path.Combine(postgres.ClusterDirectory, "postmaster.pid");
        var lines = File.Exists(pidFile) ? File.ReadAllLines(pidFile) : [];
        return lines.Length > 3 && int.TryParse(lines[3], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            ? port
            : throw new InvalidOperationException($"'{postgres.Name}' has not started listening yet.");
    }

    /// <summary>The postgres user must be able to reach its folder: a parent closed to others (root's home) is reported, not left to fail later.</summary>
    private static void RequireSearchableBy(string user, string directory)
    {
        for (var current = Path.GetDirectoryName(Path.GetFullPath(directory)); current is not null; current = Path.GetDirectoryName(current))
        {
            if (!File.GetUnixFileMode(current).HasFlag(UnixFileMode.OtherExecute))
            {
                throw new InvalidOperationException(
                    $"PostgreSQL runs as the {user} user, which cannot enter {current} (on the way to {directory}): set LlmAspire:DataDirectory "
                    + "to a folder outside it, or allow others to search it (chmod o+x).");
            }
        }
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, ILogger logger, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        foreach (var line in $"{await output}{await errors}".Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            logger.LogInformation("{Line}", line);
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with code {process.ExitCode}.");
        }
    }
}
