using System.Diagnostics;
using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>
/// A private Docker engine for the tests: <c>dockerd</c> started here, without bridge network or iptables rules, with
/// its own data root, exec root, pid file, containerd namespace and socket in a temporary directory, and stopped by
/// its pid at the end. The simulator image is built locally with <c>docker import</c> from this machine's files (the
/// .NET runtime, the simulator, the shared libraries they load): nothing is pulled. If the engine cannot start, every
/// test that uses it fails with the engine's own log.
/// </summary>
public sealed class DockerEngine : IAsyncLifetime
{
    public const string ImageRepository = "llmaspire-test/simulator";
    public const string ImageTag = ImageRepository + ":1";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(90);

    private readonly StringBuilder log = new();
    private Process? daemon;
    private DirectoryInfo? root;

    public Uri Endpoint { get; private set; } = null!;

    public DockerClient Client { get; private set; } = null!;

    /// <summary>The <c>dotnet</c> host inside the image (the same path as on this machine).</summary>
    public static string DotnetHost => Path.Combine(DotnetRoot, "dotnet");

    private static string DotnetRoot => Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    public async ValueTask InitializeAsync()
    {
        var dockerd = new[] { "/usr/sbin/dockerd", "/usr/bin/dockerd", "/usr/local/bin/dockerd" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("dockerd is not installed: eng/test.sh installs Debian's docker.io package (apt-get install docker.io).");

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

        await ImportSimulatorImageAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (daemon is not null)
        {
            if (!daemon.HasExited)
            {
                // SIGTERM lets the engine stop its containers and unmount their file systems.
                _ = Native.Kill(daemon.Id, Native.SigTerm);
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await daemon.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    daemon.Kill(entireProcessTree: true);
                    await daemon.WaitForExitAsync();
                }
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
            Native.Unmount(mount);
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

    /// <summary>The containers of one ModelManager (by its name label), running or not.</summary>
    public async Task<IList<ContainerListResponse>> ContainersAsync(string manager) =>
        await Client.Containers.ListContainersAsync(
            new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"llmaspire.manager={manager}"] = true } },
            },
            TestContext.Current.CancellationToken);

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

    /// <summary>
    /// The .NET host and the shared runtimes the simulator uses, the simulator (everything next to the test assembly)
    /// under /sim, and the libraries ldd finds for them: about 120 MB, imported in seconds.
    /// </summary>
    private async Task ImportSimulatorImageAsync()
    {
        var runtimeDirectory = Path.TrimEndingDirectorySeparator(RuntimeEnvironment.GetRuntimeDirectory());
        var aspNetDirectory = Path.GetDirectoryName(typeof(WebApplication).Assembly.Location)!;
        var hostDirectory = Path.Combine(DotnetRoot, "host");
        var nativeLibraries = new[] { runtimeDirectory, aspNetDirectory, hostDirectory }
            .SelectMany(directory => Directory.EnumerateFiles(directory, "*.so", SearchOption.AllDirectories))
            .Append(DotnetHost);
        var libraries = await RootFileSystem.SharedLibrariesOfAsync(nativeLibraries);
        var libc = libraries.FirstOrDefault(library => Path.GetFileName(library) == "libc.so.6");

        var tarPath = Path.Combine(root!.FullName, "simulator-rootfs.tar");
        await using (var file = File.Create(tarPath))
        await using (var tar = new TarWriter(file, TarEntryFormat.Pax, leaveOpen: false))
        {
            var rootFs = new RootFileSystem(tar);
            rootFs.AddPath(DotnetHost);
            rootFs.AddTree(hostDirectory);
            rootFs.AddTree(runtimeDirectory);
            rootFs.AddTree(aspNetDirectory);
            foreach (var library in libraries)
            {
                rootFs.AddPath(library);
            }

            // Loaded with dlopen (TLS), so ldd does not list them.
            foreach (var optional in new[] { "libssl.so.3", "libcrypto.so.3" })
            {
                if (libc is not null && Path.Combine(Path.GetDirectoryName(libc)!, optional) is var path && File.Exists(path))
                {
                    rootFs.AddPath(path);
                }
            }

            rootFs.AddEmptyDirectory("/tmp", (UnixFileMode)0b1_111_111_111);
            rootFs.AddTreeAt(AppContext.BaseDirectory, "/sim");
        }

        await using var image = File.OpenRead(tarPath);
        var errors = new List<string>();
        await Client.Images.CreateImageAsync(
            new ImagesCreateParameters
            {
                FromSrc = "-",
                Repo = ImageRepository,
                Tag = "1",
                // The content root must not be "/": the configuration file watcher would crawl the whole file system.
                Changes = ["WORKDIR /sim", "ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1", "ENV DOTNET_hostBuilder__reloadConfigOnChange=false"],
            },
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
            await Client.Images.InspectImageAsync(ImageTag, TestContext.Current.CancellationToken);
        }
        catch (DockerImageNotFoundException exception)
        {
            throw new InvalidOperationException($"Importing the simulator image failed: {string.Join("; ", errors)}\n{Log}", exception);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerEngine>
{
    public const string Name = "docker";
}
