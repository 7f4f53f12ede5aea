using System.Collections.Concurrent;

namespace LlmAspire.Hosting.Orchestration;

/// <summary>
/// Docker through its CLI (it honours DOCKER_HOST): usable for an image when the engine answers and already has the
/// image. Nothing is pulled: a missing image means the local binaries are used instead.
/// </summary>
internal sealed class ContainerRuntime
{
    private static readonly TimeSpan InspectTimeout = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, Task<bool>> images = new();

    public string? DockerPath { get; } = Commands.Find("docker", []);

    public Task<bool> HasImageAsync(string image, CancellationToken cancellationToken) =>
        DockerPath is null ? Task.FromResult(false) : images.GetOrAdd(image, _ => InspectAsync(image, cancellationToken));

    private async Task<bool> InspectAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            var result = await Commands.RunAsync(DockerPath!, ["image", "inspect", "--format", "{{.Id}}", image], InspectTimeout, cancellationToken);
            return result.ExitCode == 0;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
