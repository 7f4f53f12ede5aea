using System.Net;
using LlmAspire.ModelManager.Tests.Infrastructure;

namespace LlmAspire.ModelManager.Tests;

/// <summary>Without a Docker engine, the service still starts and a Docker model's start fails saying where it looked.</summary>
public sealed class DockerUnreachableTests
{
    [Fact]
    public async Task A_docker_model_without_an_engine_fails_with_the_engine_address()
    {
        var socket = Path.Combine(Path.GetTempPath(), $"llmaspire-no-engine-{Guid.NewGuid():N}.sock");
        await using var host = await ModelManagerHost.StartAsync(
        [
            TestCatalog.Setting("Docker:Endpoint", $"unix://{socket}"),
            new("ModelManager:Models:vllm:Runtime", "Docker"),
            new("ModelManager:Models:vllm:Image", "vllm/vllm-openai:latest"),
        ]);

        var failed = await host.EnsureAsync("vllm", HttpStatusCode.ServiceUnavailable);

        Assert.Contains(socket, (string?)failed["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal("failed", await host.StateAsync("vllm"));
    }
}
