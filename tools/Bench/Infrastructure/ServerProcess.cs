using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>
/// A server the benchmark starts on a loopback port, with its stdout and stderr kept in a log file. It is stopped by
/// its PID (with its own children, e.g. nginx workers) when disposed, and by <see cref="StopAll"/> if the benchmark
/// itself is being stopped.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<int, Process> Running = new();
    private readonly Process process;
    private readonly LogFile log;

    private ServerProcess(string name, Process process, LogFile log, Uri baseAddress, string logPath)
    {
        Name = name;
        this.process = process;
        this.log = log;
        BaseAddress = baseAddress;
        LogPath = logPath;
    }

    public string Name { get; }

    public Uri BaseAddress { get; }

    public string LogPath { get; }

    /// <summary>A port that was free on 127.0.0.1 a moment ago.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Starts <paramref name="fileName"/> and waits until GET <paramref name="readyPath"/> answers 2xx, or, for servers
    /// that do not speak HTTP (null path), until its port accepts connections.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(
        string name, string fileName, IEnumerable<string> arguments, Uri baseAddress, string? readyPath, string logDirectory,
        IReadOnlyDictionary<string, string>? environment, CancellationToken cancellation)
    {
        var logPath = Path.Combine(logDirectory, $"{name}.log");
        var start = new ProcessStartInfo(fileName, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        Running[process.Id] = process;
        var log = new LogFile(logPath);
        process.OutputDataReceived += (_, line) => log.Write(line.Data);
        process.ErrorDataReceived += (_, line) => log.Write(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(name, process, log, baseAddress, logPath);
        try
        {
            await WaitUntilReadyAsync(server, readyPath, cancellation);
            Console.WriteLine($"started {name} (pid {process.Id}) at {baseAddress}");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops every server still running; for the benchmark's own exit paths (Ctrl+C twice, SIGTERM).</summary>
    public static void StopAll()
    {
        foreach (var process in Running.Values)
        {
            Stop(process);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop(process);
        await process.WaitForExitAsync();
        Running.TryRemove(process.Id, out _);
        process.Dispose();
        log.Dispose();
    }

    private static async Task WaitUntilReadyAsync(ServerProcess server, string? readyPath, CancellationToken cancellation)
    {
        using var probe = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (server.process.HasExited)
            {
                throw new InvalidOperationException($"{server.Name} exited with code {server.process.ExitCode}; see {server.LogPath}.");
            }

            try
            {
                if (readyPath is null)
                {
                    using var tcp = new TcpClient();
                    await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, cancellation);
                    return;
                }

                using var response = await probe.GetAsync(readyPath, cancellation);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or SocketException || (e is TaskCanceledException && !cancellation.IsCancellationRequested))
            {
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"{server.Name} did not answer {readyPath ?? "on its port"} within 60 s; see {server.LogPath}.");
            }

            await Task.Delay(100, cancellation);
        }
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited in the meantime.
        }
    }

    /// <summary>A server's output; lines that arrive after it is closed are dropped.</summary>
    private sealed class LogFile(string path) : IDisposable
    {
        private readonly StreamWriter writer = new(path) { AutoFlush = true };
        private bool closed;

        public void Write(string? line)
        {
            lock (writer)
            {
                if (line is not null && !closed)
                {
                    writer.WriteLine(line);
                }
            }
        }

        public void Dispose()
        {
            lock (writer)
            {
                closed = true;
                writer.Dispose();
            }
        }
    }
}
