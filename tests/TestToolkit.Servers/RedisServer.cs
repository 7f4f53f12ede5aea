using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using LlmAspire.TestToolkit.Servers.Processes;

namespace LlmAspire.TestToolkit.Servers;

/// <summary>
/// A private redis-server on a free 127.0.0.1 port with its own temporary directory and no persistence. Tests can
/// kill it (SIGKILL, like a crash) and start it again on the same port.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string directory;
    private readonly string logFile;
    private Process? process;

    private RedisServer(string directory, int port, string logFile)
    {
        this.directory = directory;
        this.logFile = logFile;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The running server's process id.</summary>
    public int ProcessId => process!.Id;

    /// <summary>In StackExchange.Redis form, as <c>ConnectionStrings__cache</c> carries it.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <param name="logFile">Where the server's output goes; by default a file in its own directory, deleted with it.</param>
    public static async Task<RedisServer> StartAsync(string? logFile = null)
    {
        var directory = Directory.CreateTempSubdirectory("llmaspire-redis-").FullName;
        var server = new RedisServer(directory, Loopback.FreePort(), logFile ?? Path.Combine(directory, "redis.log"));
        try
        {
            await server.RestartAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Starts the server (again) and waits until it answers PING.</summary>
    public async Task RestartAsync()
    {
        var binary = ServerBinaries.Find("redis-server", "redis-server", "/usr/bin", "/usr/local/bin");
        process = LoggedProcess.Start(binary,
            ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory,
             "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"],
            logFile);
        await LoggedProcess.WaitUntilReadyAsync(process, logFile, PingAsync, $"redis-server on port {Port}", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));
    }

    /// <summary>Kills the server by its PID, like a crash: no goodbye to connected clients.</summary>
    public async Task KillAsync()
    {
        if (process is { HasExited: false } running)
        {
            Signals.Send(running.Id, Signals.SigKill);
            await running.WaitForExitOrKillAsync(TimeSpan.FromSeconds(30));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        process?.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    private async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
