using System.Diagnostics;
using System.Globalization;
using System.Text;
using LlmAspire.ModelManager.Catalog;
using Microsoft.Extensions.Options;
using OsProcess = System.Diagnostics.Process;

namespace LlmAspire.ModelManager.Runtimes.Process;

/// <summary>
/// Runs any OpenAI-compatible server command as a local process (<c>vllm serve</c>, <c>llama-server</c>, the
/// simulator) on a loopback port. The server runs in a session of its own (so a Ctrl+C aimed at ModelManager does not
/// reach it, and stopping it reaches its workers), writes its output to a log file rather than a pipe (so it outlives a
/// ModelManager restart), and is described by a state file from which a restarted ModelManager adopts it.
/// </summary>
internal sealed partial class ProcessRuntime(IOptions<ModelManagerOptions> options, ILogger<ProcessRuntime> logger) : IModelServerRuntime
{
    // The server's output goes to the log file; stdin is /dev/null. `exec` keeps the shell's pid, which becomes the server's.
    private const string LaunchScript = "log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1";
    private static readonly string? Setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    public RuntimeKind Kind => RuntimeKind.Process;

    private string StateDirectory => options.Value.Process.StateDirectory is { Length: > 0 } directory
        ? directory
        : Path.Combine(Path.GetTempPath(), "llmaspire-modelmanager", options.Value.Name);

    public Task<IModelServer?> FindRunningAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken)
    {
        var (statePath, logPath) = Paths(modelId);
        if (ProcessStateFile.Read(statePath) is not { } state)
        {
            return Task.FromResult<IModelServer?>(null);
        }

        if (!LinuxProcess.IsAlive(state.Pid, state.StartTime))
        {
            LogStale(logger, modelId, state.Pid);
            ProcessStateFile.DeleteIfOwnedBy(statePath, state.Pid);
            return Task.FromResult<IModelServer?>(null);
        }

        LogAdopting(logger, modelId, state.Pid, state.Port);
        return Task.FromResult<IModelServer?>(new ProcessModelServer(
            null, state.Pid, state.StartTime, ServerArguments.LoopbackEndpoint(state.Port), statePath, logPath, options.Value.Process.MaxLogBytes));
    }

    public Task<IModelServer> StartAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(StateDirectory);
        var (statePath, logPath) = Paths(modelId);
        var port = model.Port != 0 ? model.Port : ServerArguments.FreeLoopbackPort();
        File.WriteAllText(logPath, "");

        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = model.WorkingDirectory ?? "" };
        foreach (var argument in (string[])["-c", LaunchScript, "sh", logPath])
        {
            start.ArgumentList.Add(argument);
        }

        if (Setsid is not null)
        {
            start.ArgumentList.Add(Setsid);
        }

        start.ArgumentList.Add(model.Command!);
        foreach (var argument in model.Args)
        {
            start.ArgumentList.Add(ServerArguments.Expand(argument, port, modelId));
        }

        // The server inherits ModelManager's environment, except what is ModelManager's own: its settings (the API
        // token among them), connection strings, service discovery, its listening URLs and its telemetry identity.
        foreach (var key in start.Environment.Keys.Where(IsModelManagersOwn).ToList())
        {
            start.Environment.Remove(key);
        }

        if (GpuRequest.TryParse(model.Gpu, out var gpu) && gpu is { DeviceIds.Count: > 0 })
        {
            start.Environment["CUDA_VISIBLE_DEVICES"] = gpu.VisibleDevices;
        }

        foreach (var (key, value) in model.Environment)
        {
            start.Environment[key] = value;
        }

        OsProcess process;
        try
        {
            process = OsProcess.Start(start) ?? throw new ModelServerException($"Could not start '{model.Command}'.");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            var where = string.IsNullOrEmpty(model.WorkingDirectory) ? "" : $" in '{model.WorkingDirectory}'";
            throw new ModelServerException($"Could not start '{model.Command}'{where}: {exception.Message}", exception);
        }

        // The start time identifies this process for good (exec keeps it); a pid alone may be reused after a reboot.
        var startTime = LinuxProcess.StartTime(process.Id) ?? 0;
        new ProcessStateFile(modelId, process.Id, startTime, port, model.Command!, DateTimeOffset.UtcNow).Write(statePath);
        LogStarted(logger, model.Command!, process.Id, modelId, port);
        return Task.FromResult<IModelServer>(new ProcessModelServer(
            process, process.Id, startTime, ServerArguments.LoopbackEndpoint(port), statePath, logPath, options.Value.Process.MaxLogBytes));
    }

    private static bool IsModelManagersOwn(string variable) =>
        variable.StartsWith("ModelManager__", StringComparison.OrdinalIgnoreCase)
        || variable.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
        || variable.StartsWith("services__", StringComparison.OrdinalIgnoreCase)
        || variable is "ASPNETCORE_URLS" or "ASPNETCORE_HTTP_PORTS" or "ASPNETCORE_HTTPS_PORTS" or "OTEL_SERVICE_NAME" or "OTEL_RESOURCE_ATTRIBUTES";

    private (string State, string Log) Paths(string modelId)
    {
        var name = ServerArguments.SafeName(modelId);
        return (Path.Combine(StateDirectory, name + ".json"), Path.Combine(StateDirectory, name + ".log"));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Started {Command} (pid {Pid}) for model {Model} on port {Port}")]
    private static partial void LogStarted(ILogger logger, string command, int pid, string model, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "Adopting the running server of model {Model} (pid {Pid}, port {Port})")]
    private static partial void LogAdopting(ILogger logger, string model, int pid, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "The recorded server of model {Model} (pid {Pid}) is no longer running")]
    private static partial void LogStale(ILogger logger, string model, int pid);

    /// <summary>One server process, started here (<paramref name="owned"/>) or adopted after a restart.</summary>
    private sealed class ProcessModelServer : IModelServer
    {
        private const int TailLines = 60;
        private const int TailBytes = 32 * 1024;
        private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

        private readonly OsProcess? owned;
        private readonly int pid;
        private readonly ulong startTime;
        private readonly string statePath;
        private readonly string logPath;
        private readonly long maxLogBytes;
        private readonly CancellationTokenSource watching = new();

        public ProcessModelServer(OsProcess? owned, int pid, ulong startTime, Uri endpoint, string statePath, string logPath, long maxLogBytes)
        {
            this.owned = owned;
            this.pid = pid;
            this.startTime = startTime;
            this.statePath = statePath;
            this.logPath = logPath;
            this.maxLogBytes = maxLogBytes;
            Endpoint = endpoint;
            Exited = WatchAsync();
        }

        public string Instance => pid.ToString(CultureInfo.InvariantCulture);

        public Uri Endpoint { get; }

        public Task Exited { get; }

        public string? ExitDescription { get; private set; }

        public async Task<string> LogTailAsync(CancellationToken cancellationToken)
        {
            try
            {
                await using var log = new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                log.Seek(Math.Max(0, log.Length - TailBytes), SeekOrigin.Begin);
                using var reader = new StreamReader(log, Encoding.UTF8);
                var text = await reader.ReadToEndAsync(cancellationToken);
                var lines = text.Split('\n').Select(line => line.TrimEnd('\r')).ToList();
                if (log.Length > TailBytes && lines.Count > 1)
                {
                    lines.RemoveAt(0); // most likely cut in the middle
                }

                while (lines.Count > 0 && lines[^1].Length == 0)
                {
                    lines.RemoveAt(lines.Count - 1);
                }

                return string.Join('\n', lines.TakeLast(TailLines));
            }
            catch (IOException)
            {
                return "";
            }
        }

        public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
        {
            if (!Exited.IsCompleted && LinuxProcess.IsAlive(pid, startTime))
            {
                // SIGTERM first, to the whole session's group when it has one: vLLM and ASP.NET servers shut down cleanly
                // on it, and vLLM's worker processes go with it, releasing GPU memory.
                var grouped = Setsid is not null;
                LinuxProcess.Signal(pid, LinuxProcess.SigTerm, grouped);
                using (var graceTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    graceTimeout.CancelAfter(grace);
                    try
                    {
                        await Exited.WaitAsync(graceTimeout.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                    }
                }

                if (!Exited.IsCompleted && LinuxProcess.IsAlive(pid, startTime))
                {
                    KillTree(grouped);
                }

                await Exited.WaitAsync(cancellationToken);
            }

            ProcessStateFile.DeleteIfOwnedBy(statePath, pid);
        }

        public async ValueTask DisposeAsync()
        {
            await watching.CancelAsync();
            try
            {
                await Exited;
            }
            catch (OperationCanceledException)
            {
            }

            owned?.Dispose();
            watching.Dispose();
        }

        private void KillTree(bool grouped)
        {
            LinuxProcess.Signal(pid, LinuxProcess.SigKill, grouped);
            try
            {
                // Children that left the process group are still in the tree.
                using var process = owned is null ? OsProcess.GetProcessById(pid) : null;
                (owned ?? process)!.Kill(entireProcessTree: true);
            }
            catch (ArgumentException)
            {
                // already gone
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }

        /// <summary>Completes when the process has exited; trims the log file on the way.</summary>
        private async Task WatchAsync()
        {
            var tick = 0;
            using var timer = new PeriodicTimer(PollInterval);
            while (true)
            {
                if (owned is not null ? owned.HasExited : !LinuxProcess.IsAlive(pid, startTime))
                {
                    break;
                }

                if (++tick % 50 == 0)
                {
                    TrimLog();
                }

                await timer.WaitForNextTickAsync(watching.Token);
            }

            if (owned is not null)
            {
                await owned.WaitForExitAsync(CancellationToken.None);
                ExitDescription = owned.ExitCode > 128
                    ? $"killed by signal {(owned.ExitCode - 128).ToString(CultureInfo.InvariantCulture)}"
                    : $"exit code {owned.ExitCode.ToString(CultureInfo.InvariantCulture)}";
            }
            else
            {
                ExitDescription = "exited (adopted process: exit code unknown)";
            }

            ProcessStateFile.DeleteIfOwnedBy(statePath, pid);
        }

        /// <summary>The server appends (O_APPEND), so truncating in place is safe; the log starts over past its limit.</summary>
        private void TrimLog()
        {
            try
            {
                var info = new FileInfo(logPath);
                if (info.Exists && info.Length > maxLogBytes)
                {
                    using var log = new FileStream(logPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                    log.SetLength(0);
                }
            }
            catch (IOException)
            {
            }
        }
    }
}
