using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using LlmAspire.TestToolkit.Servers.Processes;
using Npgsql;

namespace LlmAspire.TestToolkit.Servers;

/// <summary>
/// A private PostgreSQL cluster (initdb + postgres) on a free 127.0.0.1 port in a temporary directory, trusting local
/// connections. PostgreSQL refuses to run as root, so under root (CI) it runs as the <c>postgres</c> user that Debian's
/// package creates. Tests can stop it (fast shutdown, by PID) and start it again on the same port and data.
/// </summary>
public sealed partial class PostgresServer : IAsyncDisposable
{
    private static readonly string[] BinaryDirectories = Directory.Exists("/usr/lib/postgresql")
        ? [.. Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0).Select(d => Path.Combine(d, "bin"))]
        : [];

    private readonly string directory;
    private readonly string data;
    private readonly PostgresServerOptions options;
    private readonly string logFile;
    private Process? process;

    private PostgresServer(string directory, int port, PostgresServerOptions options)
    {
        this.directory = directory;
        this.options = options;
        data = Path.Combine(directory, "data");
        logFile = options.LogFile ?? Path.Combine(directory, "postgres.log");
        Port = port;
    }

    public int Port { get; }

    /// <summary>The running server's (the postmaster's) process id.</summary>
    public int ProcessId => process!.Id;

    private static bool IsRoot => geteuid() == 0;

    /// <param name="options">How the server runs; by default as the tests want it (<see cref="PostgresServerOptions"/>).</param>
    public static async Task<PostgresServer> StartAsync(PostgresServerOptions? options = null)
    {
        var server = new PostgresServer(Directory.CreateTempSubdirectory("llmaspire-postgres-").FullName, Loopback.FreePort(), options ?? new PostgresServerOptions());
        try
        {
            if (IsRoot)
            {
                await Command.RunAsync("chown", ["postgres:postgres", server.directory]);
            }

            var (initdb, arguments) = AsServerUser(ServerBinaries.Find("initdb", "postgresql", BinaryDirectories),
                ["-D", server.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
            await Command.RunAsync(initdb, arguments);
            await server.RestartAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>A connection string for <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5;Command Timeout=30";

    /// <summary>Creates a fresh, empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "test_" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>Starts the server (again, on the same port and data) and waits until it accepts connections.</summary>
    public async Task RestartAsync()
    {
        var postgres = ServerBinaries.Find("postgres", "postgresql", BinaryDirectories);
        var (fileName, arguments) = AsServerUser(postgres,
        [
            "-D", data, "-p", Port.ToString(CultureInfo.InvariantCulture), "-c", "listen_addresses=127.0.0.1",
            "-c", $"unix_socket_directories={directory}",
            .. options.Settings.SelectMany(setting => new[] { "-c", $"{setting.Key}={setting.Value}" }),
        ]);
        process = LoggedProcess.Start(fileName, arguments, logFile);
        await LoggedProcess.WaitUntilReadyAsync(process, logFile, AcceptsConnectionsAsync, $"PostgreSQL on port {Port}", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Stops the server by its PID with a fast shutdown (SIGINT): sessions are cut, data is kept.</summary>
    public async Task StopAsync()
    {
        if (process is { HasExited: false } running)
        {
            // A frozen server would not act on the signal.
            Thaw();
            Signals.Send(running.Id, Signals.SigInt);
            await running.WaitForExitOrKillAsync(TimeSpan.FromSeconds(60));
        }

        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>
    /// Hangs the server without closing anything, like a frozen host: SIGSTOP to the postmaster, then to every process
    /// it started (the backends of open connections too). Connections and queries get no answer until <see cref="Thaw"/>.
    /// </summary>
    public void Freeze()
    {
        var postmaster = process!.Id;
        Signals.Send(postmaster, Signals.SigStop);
        foreach (var child in ProcessTree.Children(postmaster))
        {
            Signals.Send(child, Signals.SigStop);
        }
    }

    /// <summary>Lets a frozen server run again (SIGCONT to its processes, the postmaster last).</summary>
    public void Thaw()
    {
        var postmaster = process!.Id;
        foreach (var child in ProcessTree.Children(postmaster))
        {
            Signals.Send(child, Signals.SigCont);
        }

        Signals.Send(postmaster, Signals.SigCont);
    }

    public async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        process?.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>The command line that runs <paramref name="binary"/> as the server's user: itself, or through setpriv under root.</summary>
    private static (string FileName, string[] Arguments) AsServerUser(string binary, string[] arguments) => IsRoot
        ? ("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", binary, .. arguments])
        : (binary, arguments);

    private async Task<bool> AcceptsConnectionsAsync()
    {
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
            await connection.OpenAsync();
            return true;
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            return false;
        }
    }

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
