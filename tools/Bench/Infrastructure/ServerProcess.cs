using System.Diagnostics;
using System.Net.Sockets;
using LlmAspire.TestToolkit.Servers.Processes;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>
/// An HTTP server the benchmark starts on a loopback port, with its stdout and stderr kept in a log file. It is stopped
/// by its PID (with its own children, e.g. nginx workers) when disposed, and by <see cref="StopAll"/> if the benchmark
/// itself is being stopped.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;

    private ServerProcess(string name, Process process, Uri baseAddress, string logPath)
    {
        Name = name;
        this.process = process;
        BaseAddress = baseAddress;
        LogPath = logPath;
    }

    public string Name { get; }

    public Uri BaseAddress { get; }

    public int ProcessId => process.Id;

    public string LogPath { get; }

    /// <summary>Starts <paramref name="fileName"/> and waits until GET <paramref name="readyPath"/> answers 2xx.</summary>
    public static async Task<ServerProcess> StartAsync(
        string name, string fileName, IEnumerable<string> arguments, Uri baseAddress, string readyPath, string logDirectory,
        IReadOnlyDictionary<string, string>? environment, CancellationToken cancellation)
    {
        var logPath = Path.Combine(logDirectory, $"{name}.log");
        var process = LoggedProcess.Start(fileName, arguments, logPath, environment);
        var server = new ServerProcess(name, process, baseAddress, logPath);
        try
        {
            await WaitUntilReadyAsync(server, readyPath, cancellation);
            ReportStarted(name, process.Id, baseAddress);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Stops every server still running, these and the Redis and PostgreSQL servers alike; for the benchmark's own exit
    /// paths (Ctrl+C twice, SIGTERM).
    /// </summary>
    public static void StopAll() => LoggedProcess.KillAll();

    /// <summary>The line the benchmark prints for every server it has started.</summary>
    public static void ReportStarted(string name, int pid, Uri address) => Console.WriteLine($"started {name} (pid {pid}) at {address}");

    public async ValueTask DisposeAsync()
    {
        Stop(process);
        await process.WaitForExitAsync();
        process.Dispose();
    }

    private static async Task WaitUntilReadyAsync(ServerProcess server, string readyPath, CancellationToken cancellation)
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
                throw new TimeoutException($"{server.Name} did not answer {readyPath} within 60 s; see {server.LogPath}.");
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
}
