using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;

namespace LlmAspire.Hosting.Orchestration;

/// <summary>
/// Docker through its CLI: usable for an image when the engine answers and already has the image. Nothing is pulled:
/// a missing image means the local binaries are used instead. The engine is the CLI's default unless the AppHost's
/// configuration (its environment included) sets <c>DOCKER_HOST</c>; that is passed to every docker command.
/// </summary>
internal sealed class ContainerRuntime(IConfiguration configuration)
{
    private static readonly TimeSpan InspectTimeout = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, Task<bool>> images = new();

    public string? DockerPath { get; } = Commands.Find("docker", []);

    /// <summary>What every docker command's environment needs besides the AppHost's own.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; } = configuration["DOCKER_HOST"] is { Length: > 0 } host
        ? new Dictionary<string, string> { ["DOCKER_HOST"] = host }
        : new Dictionary<string, string>();

    public Task<bool> HasImageAsync(string image, CancellationToken cancellationToken) =>
        DockerPath is null ? Task.FromResult(false) : images.GetOrAdd(image, _ => InspectAsync(image, cancellationToken));

    /// <summary>Runs a short docker command against the configured engine.</summary>
    public Task<Commands.Result> RunAsync(IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken) =>
        Commands.RunAsync(DockerPath!, arguments, timeout, cancellationToken, Environment);

    private async Task<bool> InspectAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            var result = await RunAsync(["image", "inspect", "--format", "{{.Id}}", image], InspectTimeout, cancellationToken);
            return result.ExitCode == 0;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
