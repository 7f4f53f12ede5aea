using LlmAspire.Hosting;
using LlmAspire.Hosting.Orchestration;
using LlmAspire.ModelManager.Tests.Infrastructure;

namespace LlmAspire.AppHost.Tests.Infrastructure;

/// <summary>
/// The private engine with an image tagged as the AppHost's Redis resource expects. It holds what the resource uses
/// of the official image (it overrides the entrypoint with <c>/bin/sh</c> and runs <c>redis-server</c> from PATH):
/// this machine's <c>/bin/sh</c> and <c>redis-server</c>, the libraries they load, and the image's working directory.
/// </summary>
public sealed class RedisDockerEngine : DockerEngine
{
    public const string ImageReference = $"{Repository}:{RedisContainerImageTags.Tag}";
    private const string Repository = $"{RedisContainerImageTags.Registry}/{RedisContainerImageTags.Image}";

    protected override async Task ImportImagesAsync()
    {
        string[] binaries = ["/bin/sh", Commands.Find("redis-server", [])
            ?? throw new InvalidOperationException("redis-server is not installed: eng/test.sh installs Debian's redis-server package.")];
        var libraries = await RootFileSystem.SharedLibrariesOfAsync(binaries);
        await ImportImageAsync(Repository, RedisContainerImageTags.Tag, rootFs =>
        {
            foreach (var file in binaries.Concat(libraries))
            {
                rootFs.AddPath(file);
            }

            rootFs.AddEmptyDirectory("/data", (UnixFileMode)0b111_101_101);
        },
        ["WORKDIR /data"]);
    }
}
