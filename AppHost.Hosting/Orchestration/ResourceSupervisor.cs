using System.Diagnostics;
using LlmAspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Logging;

namespace LlmAspire.Hosting.Orchestration;

/// <summary>
/// Runs one resource: waits for what it waits for, starts it (a process in its own process group, or nothing for a
/// database), probes its health, restarts it with back-off when it exits by itself, and stops it by signalling its
/// process group.
/// </summary>
internal sealed class ResourceSupervisor(IResource resource, SupervisorContext context)
{
    private static readonly TimeSpan ProbeIntervalUntilHealthy = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan ProbeIntervalWhileHealthy = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FirstRestartDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(30);
    // ModelManager stops its model servers before it exits; give it that long before the process group is killed.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private static readonly string SetsidPath = Commands.Find("setsid", ["/usr/bin", "/bin"])
        ?? throw new InvalidOperationException("setsid (util-linux) is required to run resources in their own process groups.");

    private readonly CancellationTokenSource stopping = new();
    private Task running = Task.CompletedTask;
    private Process? process;
    private ProcessSpec? spec;
    private volatile bool restartRequested;

    public IResource Resource { get; } = resource;

    public void Start(CancellationToken applicationStopping)
    {
        var token = CancellationTokenSource.CreateLinkedTokenSource(applicationStopping, stopping.Token).Token;
        running = Task.Run(() => RunAsync(token), CancellationToken.None);
    }

    public async Task StopAsync()
    {
        await stopping.CancelAsync();
        await StopProcessAsync();
        try
        {
            await running;
        }
        catch (OperationCanceledException)
        {
            // Stopped while waiting or between restarts.
        }

        if (context.Notifications.Get(Resource.Name).State is not (ResourceState.Failed or ResourceState.Exited))
        {
            Update(s => s with { State = ResourceState.Exited, Health = HealthStatus.Unknown, ProcessId = null });
        }
    }

    /// <summary>Stops the running process; the supervisor starts it again at once. False when no process is running.</summary>
    public async Task<bool> RestartAsync()
    {
        if (process is not { HasExited: false } || stopping.IsCancellationRequested)
        {
            return false;
        }

        restartRequested = true;
        await StopProcessAsync();
        return true;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        Update(s => s with { State = ResourceState.Waiting, Endpoints = Endpoints() });
        foreach (var dependency in Resource.Annotations.OfType<WaitAnnotation>())
        {
            try
            {
                await context.Notifications.WaitForResourceHealthyAsync(dependency.Resource.Name, cancellationToken);
            }
            catch (InvalidOperationException)
            {
                Fail($"It waits for '{dependency.Resource.Name}', which failed.");
                return;
            }
        }

        if (Resource is not IResourceWithEnvironment)
        {
            // Nothing to run (a database lives in its server): it is running once what it waits for is healthy.
            Update(s => s with { State = ResourceState.Running, StartedAt = DateTimeOffset.UtcNow });
            await ProbeHealthAsync(cancellationToken);
            return;
        }

        var restartDelay = FirstRestartDelay;
        while (true)
        {
            Update(s => s with { State = ResourceState.Starting, Health = HealthStatus.Unknown });
            try
            {
                spec = await BuildSpecAsync(cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                Fail(exception.Message);
                return;
            }

            var started = DateTimeOffset.UtcNow;
            process = Launch(spec);
            Update(s => s with { State = ResourceState.Running, StartedAt = started, ProcessId = process.Id });
            using var launch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var probing = ProbeHealthAsync(launch.Token);
            await process.WaitForExitAsync(CancellationToken.None);
            await launch.CancelAsync();
            await probing.ContinueWith(_ => { }, TaskScheduler.Default);
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            var exitCode = process.ExitCode;
            Update(s => s with { State = exitCode == 0 ? ResourceState.Exited : ResourceState.Failed, Health = HealthStatus.Unhealthy, ExitCode = exitCode, ProcessId = null });
            KillLeftovers(process.Id);
            if (restartRequested)
            {
                restartRequested = false;
            }
            else
            {
                context.Logger.LogWarning("{Resource} exited with code {ExitCode}; restarting in {Delay}", Resource.Name, exitCode, restartDelay);
                // A crash after a long healthy run starts the back-off over.
                restartDelay = DateTimeOffset.UtcNow - started > MaxRestartDelay * 2 ? FirstRestartDelay : restartDelay;
                await Task.Delay(restartDelay, cancellationToken);
                restartDelay = TimeSpan.FromTicks(Math.Min(restartDelay.Ticks * 2, MaxRestartDelay.Ticks));
            }

            Update(s => s with { Restarts = s.Restarts + 1 });
        }
    }

    /// <summary>
    /// Probes often until healthy, then every few seconds. Each time it becomes healthy the resource's ready callbacks
    /// run first (PostgreSQL creates its databases), so nothing waiting for it starts too early.
    /// </summary>
    private async Task ProbeHealthAsync(CancellationToken cancellationToken)
    {
        var checks = Resource.Annotations.OfType<HealthCheckAnnotation>().ToList();
        var healthy = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            var nowHealthy = await CheckAsync(checks, cancellationToken);
            if (nowHealthy && !healthy)
            {
                await RunReadyCallbacksAsync(cancellationToken);
                context.Logger.LogInformation("{Resource} is healthy", Resource.Name);
            }

            if (nowHealthy != healthy || context.Notifications.Get(Resource.Name).Health == HealthStatus.Unknown)
            {
                Update(s => s with { Health = nowHealthy ? HealthStatus.Healthy : HealthStatus.Unhealthy });
            }

            healthy = nowHealthy;
            await Task.Delay(healthy ? ProbeIntervalWhileHealthy : ProbeIntervalUntilHealthy, cancellationToken);
        }
    }

    private static async Task<bool> CheckAsync(List<HealthCheckAnnotation> checks, CancellationToken cancellationToken)
    {
        foreach (var check in checks)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ProbeTimeout);
            try
            {
                if (!await check.Check(timeout.Token))
                {
                    return false;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
            {
                return false;
            }
        }

        return true;
    }

    private async Task RunReadyCallbacksAsync(CancellationToken cancellationToken)
    {
        foreach (var annotation in Resource.Annotations.OfType<ResourceReadyAnnotation>())
        {
            try
            {
                await annotation.Callback(new ResourceReadyEvent(Resource, context.Services), cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                context.Logs.Write(Resource.Name, "stderr", $"[apphost] ready callback failed: {exception.Message}");
                context.Logger.LogError(exception, "A ready callback of {Resource} failed", Resource.Name);
            }
        }
    }

    private async Task<ProcessSpec> BuildSpecAsync(CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in ResourceValues.Environment(Resource, DistributedApplicationOperation.Run))
        {
            environment[name] = await ResourceValues.ResolveAsync(value, cancellationToken);
        }

        var arguments = new List<string>();
        foreach (var argument in ResourceValues.Arguments(Resource, DistributedApplicationOperation.Run))
        {
            arguments.Add(await ResourceValues.ResolveAsync(argument, cancellationToken));
        }

        return Resource switch
        {
            ProjectResource project => File.Exists(project.Metadata.TargetPath)
                ? new ProcessSpec("dotnet", [project.Metadata.TargetPath, .. arguments], environment, Path.GetDirectoryName(project.Metadata.ProjectPath))
                : throw new InvalidOperationException($"{project.Metadata.TargetPath} does not exist: build the AppHost (dotnet build AppHost) first."),
            ExecutableResource executable => new ProcessSpec(executable.Command, arguments, environment, executable.WorkingDirectory),
            ContainerResource container => await ContainerSpecAsync(container, environment, arguments, cancellationToken),
            _ => throw new InvalidOperationException($"Resource '{Resource.Name}' of type {Resource.GetType().Name} cannot be run."),
        };
    }

    /// <summary>Docker when it has the image; otherwise the server binary installed here; otherwise how to get either.</summary>
    private async Task<ProcessSpec> ContainerSpecAsync(ContainerResource container, Dictionary<string, string> environment, List<string> arguments, CancellationToken cancellationToken)
    {
        if (await context.Containers.HasImageAsync(container.ImageReference, cancellationToken))
        {
            context.Logs.Write(Resource.Name, "stdout", $"[apphost] running {container.ImageReference} in Docker");
            Update(s => s with { Image = container.ImageReference });
            return DockerRunSpec(container, environment, arguments);
        }

        var local = container.Annotations.OfType<LocalServerAnnotation>().SingleOrDefault();
        var binary = local is null ? null : Commands.Find(local.BinaryName, local.SearchDirectories);
        if (local is null || binary is null)
        {
            var localAdvice = local is null ? "" : $", or install {local.BinaryName} (apt-get install {local.DebianPackage}; eng/run.sh does)";
            throw new InvalidOperationException(
                $"'{Resource.Name}' needs Docker with the image {container.ImageReference} (docker pull {container.ImageReference}){localAdvice}.");
        }

        var dataDirectory = Directory.CreateDirectory(Path.Combine(context.RunDirectory, Resource.Name)).FullName;
        context.Logs.Write(Resource.Name, "stdout", $"[apphost] no Docker image {container.ImageReference}: running {binary} in {dataDirectory}");
        var port = container.Annotations.OfType<EndpointAnnotation>().First().Allocated!.Port;
        return await local.Prepare(new LocalServerContext(binary, dataDirectory, port), cancellationToken);
    }

    private ProcessSpec DockerRunSpec(ContainerResource container, Dictionary<string, string> environment, List<string> arguments)
    {
        var name = $"llmaspire-{Resource.Name}-{Path.GetFileName(context.RunDirectory).Split('-')[^1]}";
        // The host's network rather than published ports: an engine may have no bridge network, and the resource's
        // arguments tell the server to listen on its allocated port on 127.0.0.1.
        List<string> run = ["run", "--rm", "--name", name, "--label", $"llmaspire.apphost={Path.GetFileName(context.RunDirectory)}", "--network", "host"];

        // Values travel in the docker CLI's own environment (`-e NAME`), so passwords stay off its command line.
        foreach (var variable in environment.Keys)
        {
            run.AddRange(["-e", variable]);
        }

        if (container.Entrypoint is not null)
        {
            run.AddRange(["--entrypoint", container.Entrypoint]);
        }

        var cliEnvironment = new Dictionary<string, string>(environment);
        foreach (var (variable, value) in context.Containers.Environment)
        {
            cliEnvironment[variable] = value;
        }

        return new ProcessSpec(context.Containers.DockerPath!, [.. run, container.ImageReference, .. arguments], cliEnvironment)
        {
            AfterStop = cancellationToken => context.Containers.RunAsync(["rm", "--force", name], ProbeTimeout, cancellationToken),
        };
    }

    private Process Launch(ProcessSpec processSpec)
    {
        // setsid makes the process the leader of its own process group: a Ctrl+C in the terminal reaches only the
        // AppHost, which then stops resources in order, and a stop signal reaches the whole group (workers included).
        var start = new ProcessStartInfo(SetsidPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = processSpec.WorkingDirectory ?? context.RunDirectory,
        };
        start.ArgumentList.Add(processSpec.FileName);
        foreach (var argument in processSpec.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in processSpec.Environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var started = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {processSpec.FileName}.");
        started.StandardInput.Close();
        started.OutputDataReceived += (_, e) => Log("stdout", e.Data);
        started.ErrorDataReceived += (_, e) => Log("stderr", e.Data);
        started.BeginOutputReadLine();
        started.BeginErrorReadLine();
        context.Logger.LogInformation("{Resource} started: {Command} (pid {Pid})", Resource.Name, Path.GetFileName(processSpec.FileName), started.Id);
        return started;
    }

    private async Task StopProcessAsync()
    {
        if (process is not { } running || spec is not { } runningSpec)
        {
            return;
        }

        if (!running.HasExited)
        {
            Native.SignalGroup(running.Id, runningSpec.StopSignal);
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await running.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                context.Logger.LogWarning("{Resource} did not stop within {Timeout}; killing it", Resource.Name, StopTimeout);
                running.Kill(entireProcessTree: true);
                await running.WaitForExitAsync(CancellationToken.None);
            }
        }

        KillLeftovers(running.Id);
        if (runningSpec.AfterStop is { } afterStop)
        {
            await afterStop(CancellationToken.None);
        }
    }

    /// <summary>Whatever of the process group outlived its leader is killed.</summary>
    private static void KillLeftovers(int processGroup) => Native.SignalGroup(processGroup, Signals.Kill);

    private void Log(string stream, string? line)
    {
        if (line is not null)
        {
            context.Logs.Write(Resource.Name, stream, line);
        }
    }

    private void Fail(string reason)
    {
        context.Logs.Write(Resource.Name, "stderr", $"[apphost] {reason}");
        context.Logger.LogError("{Resource} failed: {Reason}", Resource.Name, reason);
        Update(s => s with { State = ResourceState.Failed, Health = HealthStatus.Unhealthy, IsTerminal = true, ProcessId = null });
    }

    private IReadOnlyList<ResourceEndpoint> Endpoints() =>
        [.. Resource.Annotations.OfType<EndpointAnnotation>().Select(e => new ResourceEndpoint(e.Name, Resource is IResourceWithEndpoints withEndpoints ? withEndpoints.GetEndpoint(e.Name).Url : ""))];

    private void Update(Func<ResourceSnapshot, ResourceSnapshot> update) => context.Notifications.Update(Resource, update);
}
