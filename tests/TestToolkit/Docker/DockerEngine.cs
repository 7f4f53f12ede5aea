using System.Diagnostics;
using System.Formats.Tar;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using LlmAspire.TestToolkit.Servers;
using LlmAspire.TestToolkit.Servers.Processes;

namespace LlmAspire.TestToolkit.Docker;

/// <summary>
/// A private Docker engine for the tests: <c>dockerd</c> started here, without bridge network or iptables rules, with
/// its own data root, exec root, pid file, containerd namespace and socket in a temporary directory, and stopped by
/// its pid at the end. Each test project's engine imports the images its tests run (<see cref="ImportImagesAsync"/>),
/// built locally with <c>docker import</c> from this machine's files: nothing is pulled. If the engine cannot start,
/// every test that uses it fails with the engine's own log.
/// </summary>
public abstract class DockerEngine : IAsyncLifetime
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(90);

    private readonly StringBuilder log = new();
    private Process? daemon;
    private DirectoryInfo? root;

    public Uri Endpoint { get; private set; } = null!;

    public DockerClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var dockerd = ServerBinaries.Find("dockerd", "docker.io", "/usr/sbin", "/usr/bin", "/usr/local/bin");

        // A short path: the engine's unix sockets must fit in 108 bytes.
        root = Directory.CreateTempSubdirectory("llmaspire-dockerd-");
        Endpoint = new Uri($"unix://{root.FullName}/docker.sock");
        var isolation = $"llmaspire-test-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40];
        var start = new ProcessStartInfo(dockerd)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] arguments =
        [
            "--bridge=none", "--iptables=false", "--ip-masq=false",
            $"--data-root={root.FullName}/data", $"--exec-root={root.FullName}/exec", $"--pidfile={root.FullName}/dockerd.pid",
            $"--host=unix://{root.FullName}/docker.sock",
            // Its own containerd namespaces, in case it attaches to a system containerd shared with other engines.
            $"--containerd-namespace={isolation}", $"--containerd-plugins-namespace={isolation}-plugins",
            "--log-level=warn",
        ];
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        daemon = Process.Start(start) ?? throw new InvalidOperationException("dockerd did not start.");
        daemon.OutputDataReceived += (_, line) => Keep(line.Data);
        daemon.ErrorDataReceived += (_, line) => Keep(line.Data);
        daemon.BeginOutputReadLine();
        daemon.BeginErrorReadLine();

        Client = new DockerClientBuilder().WithEndpoint(Endpoint).Build();
        var deadline = DateTime.UtcNow + StartDeadline;
        while (true)
        {
            if (daemon.HasExited)
            {
                throw new InvalidOperationException($"dockerd exited with code {daemon.ExitCode} before answering:\n{Log}");
            }

            try
            {
                using var ping = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Client.System.PingAsync(ping.Token);
                break;
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException or DockerApiException
                or System.Net.Sockets.SocketException or TimeoutException)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"dockerd did not answer on {Endpoint} within {StartDeadline.TotalSeconds} s:\n{Log}", exception);
                }

                await Task.Delay(100);
            }
        }

        await ImportImagesAsync();
    }

    /// <summary>Builds the images the tests run, with <see cref="ImportImageAsync"/>.</summary>
    protected abstract Task ImportImagesAsync();

    /// <summary>Imports the root file system that <paramref name="addFiles"/> writes as <c>repository:tag</c>.</summary>
    protected async Task ImportImageAsync(string repository, string tag, Action<RootFileSystem> addFiles, IList<string> changes)
    {
        var tarPath = Path.Combine(root!.FullName, "rootfs.tar");
        await using (var file = File.Create(tarPath))
        await using (var tar = new TarWriter(file, TarEntryFormat.Pax, leaveOpen: false))
        {
            addFiles(new RootFileSystem(tar));
        }

        await using var image = File.OpenRead(tarPath);
        var errors = new List<string>();
        await Client.Images.CreateImageAsync(
            new ImagesCreateParameters { FromSrc = "-", Repo = repository, Tag = tag, Changes = changes },
            image,
            null,
            new Progress<JSONMessage>(message =>
            {
                if (message.Error?.Message is { Length: > 0 } error)
                {
                    lock (errors)
                    {
                        errors.Add(error);
                    }
                }
            }),
            TestContext.Current.CancellationToken);
        File.Delete(tarPath);

        try
        {
            await Client.Images.InspectImageAsync($"{repository}:{tag}", TestContext.Current.CancellationToken);
        }
        catch (DockerImageNotFoundException exception)
        {
            throw new InvalidOperationException($"Importing the image {repository}:{tag} failed: {string.Join("; ", errors)}\n{Log}", exception);
        }
    }

    public async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        Client?.Dispose();
        if (daemon is not null)
        {
            if (!daemon.HasExited)
            {
                // SIGTERM lets the engine stop its containers and unmount their file systems.
                Signals.Send(daemon.Id, Signals.SigTerm);
                await daemon.WaitForExitOrKillAsync(TimeSpan.FromSeconds(30));
            }

            daemon.Dispose();
        }

        if (root is null)
        {
            return;
        }

        // The engine leaves its default network namespace mounted under the exec root.
        var mounts = File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(mount => mount.StartsWith(root.FullName + "/", StringComparison.Ordinal))
            .OrderByDescending(mount => mount.Length);
        foreach (var mount in mounts)
        {
            FileSystemCalls.Unmount(mount);
        }

        try
        {
            root.Delete(recursive: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // A mount left behind by a killed engine; the temporary directory is left to the system.
        }
    }

    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            if (log.Length < 256 * 1024)
            {
                log.AppendLine(line);
            }
        }
    }
}
