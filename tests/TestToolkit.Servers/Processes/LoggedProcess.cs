using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmAspire.TestToolkit.Servers.Processes;

/// <summary>
/// Server processes with their standard output and error appended to a log file, line by line, until both streams end.
/// Every one still running is known, so that a program being stopped can end them all (<see cref="KillAll"/>).
/// </summary>
public static class LoggedProcess
{
    private static readonly ConcurrentDictionary<int, Process> Running = new();

    public static Process Start(string fileName, IEnumerable<string> arguments, string logFile, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        Running[process.Id] = process;
        process.Exited += (_, _) => Running.TryRemove(process.Id, out _);
        process.EnableRaisingEvents = true;
        var log = new LogFile(logFile);
        process.OutputDataReceived += (_, line) => log.Write(line.Data);
        process.ErrorDataReceived += (_, line) => log.Write(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// Polls <paramref name="ready"/> every <paramref name="pollInterval"/> until it holds; throws with the process's log
    /// when the process exits first or <paramref name="deadline"/> passes.
    /// </summary>
    public static async Task WaitUntilReadyAsync(Process process, string logFile, Func<Task<bool>> ready, string server, TimeSpan deadline, TimeSpan pollInterval)
    {
        var waited = Stopwatch.StartNew();
        while (!await ready())
        {
            if (process.HasExited || waited.Elapsed > deadline)
            {
                throw new InvalidOperationException($"{server} did not start: {await File.ReadAllTextAsync(logFile)}");
            }

            await Task.Delay(pollInterval);
        }
    }

    /// <summary>Kills every process started here that is still running, with its children.</summary>
    public static void KillAll()
    {
        foreach (var process in Running.Values)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited in the meantime.
            }
        }
    }

    /// <summary>A process's output; closed when both its streams have ended (a null line each), so no last line is lost.</summary>
    private sealed class LogFile(string path)
    {
        private readonly StreamWriter writer = new(path, append: true) { AutoFlush = true };
        private int openStreams = 2;

        public void Write(string? line)
        {
            lock (writer)
            {
                if (line is not null)
                {
                    writer.WriteLine(line);
                }
                else if (--openStreams == 0)
                {
                    writer.Dispose();
                }
            }
        }
    }
}
