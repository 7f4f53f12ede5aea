using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>
/// A private redis-server on a free 127.0.0.1 port with its own temporary directory and no persistence. Tests can
/// kill it (SIGKILL, like a crash) and start it again on the same port.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string directory;
    private Process? process;

    private RedisServer(string directory, int port)
    {
        this.directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>In StackExchange.Redis form, as <c>ConnectionStrings__cache</c> carries it.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer(Directory.CreateTempSubdirectory("llmaspire-redis-").FullName, NativeServer.FreePort());
        await server.RestartAsync();
        return server;
    }

    /// <summary>Starts the server (again) and waits until it answers PING.</summary>
    public async Task RestartAsync()
    {
        var binary = NativeServer.Find("redis-server", "redis-server", "/usr/bin", "/usr/local/bin");
        process = NativeServer.Start(binary,
            ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory,
             "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"],
            Path.Combine(directory, "redis.log"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await PingAsync())
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"redis-server did not start on port {Port}: {await File.ReadAllTextAsync(Path.Combine(directory, "redis.log"))}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Kills the server by its PID, like a crash: no goodbye to connected clients.</summary>
    public async Task KillAsync()
    {
        if (process is { HasExited: false } running)
        {
            NativeServer.Signal(running.Id, NativeServer.SigKill);
            await NativeServer.WaitForExitAsync(running, TimeSpan.FromSeconds(30));
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
