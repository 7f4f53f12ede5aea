using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using LlmAspire.ModelManager.Catalog;

namespace LlmAspire.ModelManager.Runtimes;

/// <summary>
/// Runs any OpenAI-compatible server command as a local process (<c>vllm serve</c>, <c>llama-server</c>, the
/// simulator) on a loopback port, with its output kept for error messages.
/// </summary>
public sealed class ProcessRuntime(ILogger<ProcessRuntime> logger) : IModelServerRuntime
{
    public Task<IModelServer> StartAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken)
    {
        var port = model.Port != 0 ? model.Port : FreeLoopbackPort();
        var start = new ProcessStartInfo(model.Command!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in model.Args)
        {
            start.ArgumentList.Add(argument.Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{model}", modelId, StringComparison.Ordinal));
        }

        foreach (var (key, value) in model.Environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{model.Command}'.");
        logger.LogInformation("Started {Command} (pid {Pid}) for model {Model} on port {Port}", model.Command, process.Id, modelId, port);
        return Task.FromResult<IModelServer>(new ProcessModelServer(process, new Uri($"http://127.0.0.1:{port}")));
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class ProcessModelServer : IModelServer
    {
        private const int TailLines = 50;
        private readonly Process process;
        private readonly Queue<string> tail = new();

        public ProcessModelServer(Process process, Uri endpoint)
        {
            this.process = process;
            Endpoint = endpoint;
            process.OutputDataReceived += (_, line) => Keep(line.Data);
            process.ErrorDataReceived += (_, line) => Keep(line.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            Exited = process.WaitForExitAsync();
        }

        public Uri Endpoint { get; }

        public Task Exited { get; }

        public string LogTail()
        {
            lock (tail)
            {
                return string.Join('\n', tail);
            }
        }

        public async Task StopAsync(TimeSpan grace)
        {
            if (process.HasExited)
            {
                return;
            }

            // SIGTERM first: vLLM and ASP.NET servers shut down cleanly on it, releasing GPU memory.
            _ = Terminate(process.Id, 15);
            if (await Task.WhenAny(Exited, Task.Delay(grace)) != Exited)
            {
                process.Kill(entireProcessTree: true);
                await Exited;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await Exited;
            }

            process.Dispose();
        }

        private void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > TailLines)
                {
                    tail.Dequeue();
                }
            }
        }

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int Terminate(int pid, int signal);
    }
}
