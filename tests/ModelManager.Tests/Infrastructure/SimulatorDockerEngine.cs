using System.Runtime.InteropServices;
using Docker.DotNet.Models;
using LlmAspire.TestToolkit.Docker;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>
/// The private engine with the simulator image: the .NET runtime, the simulator and the shared libraries they load,
/// from this machine.
/// </summary>
public sealed class SimulatorDockerEngine : DockerEngine
{
    public const string ImageRepository = "llmaspire-test/simulator";
    public const string ImageTag = ImageRepository + ":1";

    /// <summary>The <c>dotnet</c> host inside the image (the same path as on this machine).</summary>
    public static string DotnetHost => Path.Combine(DotnetRoot, "dotnet");

    private static string DotnetRoot => Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    /// <summary>The containers of one ModelManager (by its name label), running or not.</summary>
    public async Task<IList<ContainerListResponse>> ContainersAsync(string manager) =>
        await Client.Containers.ListContainersAsync(
            new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"llmaspire.manager={manager}"] = true } },
            },
            TestContext.Current.CancellationToken);

    /// <summary>
    /// The .NET host and the shared runtimes the simulator uses, the simulator (everything next to the test assembly)
    /// under /sim, and the libraries ldd finds for them: about 120 MB, imported in seconds.
    /// </summary>
    protected override async Task ImportImagesAsync()
    {
        var runtimeDirectory = Path.TrimEndingDirectorySeparator(RuntimeEnvironment.GetRuntimeDirectory());
        var aspNetDirectory = Path.GetDirectoryName(typeof(WebApplication).Assembly.Location)!;
        var hostDirectory = Path.Combine(DotnetRoot, "host");
        var nativeLibraries = new[] { runtimeDirectory, aspNetDirectory, hostDirectory }
            .SelectMany(directory => Directory.EnumerateFiles(directory, "*.so", SearchOption.AllDirectories))
            .Append(DotnetHost);
        var libraries = await RootFileSystem.SharedLibrariesOfAsync(nativeLibraries);
        var libc = libraries.FirstOrDefault(library => Path.GetFileName(library) == "libc.so.6");

        await ImportImageAsync(ImageRepository, "1", rootFs =>
        {
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
        },
        // The content root must not be "/": the configuration file watcher would crawl the whole file system.
        ["WORKDIR /sim", "ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1", "ENV DOTNET_hostBuilder__reloadConfigOnChange=false"]);
    }
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<SimulatorDockerEngine>
{
    public const string Name = "docker";
}
