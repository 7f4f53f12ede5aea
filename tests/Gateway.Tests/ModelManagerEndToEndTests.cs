using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.ModelManager;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// The gateway in front of a real ModelManager that runs the simulator as a local process: models start on their first
/// request and stop after their idle timeout, never while a request of theirs is still streaming.
/// </summary>
public sealed class ModelManagerEndToEndTests : IAsyncLifetime
{
    private const string Token = "end-to-end-token";
    private readonly DirectoryInfo stateDirectory = Directory.CreateTempSubdirectory("llmaspire-gateway-mm-");
    private WebApplication? manager;
    private GatewayServer? gateway;
    private HttpClient? managerClient;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private GatewayServer Gateway => gateway!;

    public async ValueTask InitializeAsync()
    {
        manager = ModelManagerApplication.Create(
        [
            "--urls", "http://127.0.0.1:0",
            "--Logging:LogLevel:Default", "Warning",
            "--ModelManager:ApiToken", Token,
            "--ModelManager:IdleCheckInterval", "00:00:00.100",
            "--ModelManager:ReadinessPollInterval", "00:00:00.050",
            "--ModelManager:StopModelsOnShutdown", "true",
            "--ModelManager:Process:StateDirectory", stateDirectory.FullName,
            .. SimulatorEntry("streamer", idleTimeout: "00:00:01", "--output-tokens", "40", "--tokens-per-second", "20"),
            .. SimulatorEntry("quick", idleTimeout: "00:10:00", "--output-tokens", "4"),
        ]);
        await manager.StartAsync(Cancellation);
        var managerAddress = new Uri(manager.Urls.First());
        managerClient = new HttpClient { BaseAddress = managerAddress };
        managerClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        gateway = await GatewayServer.StartAsync(
        [
            new("services:modelmanager:http:0", managerAddress.ToString()),
            new("Gateway:ModelManager:ApiToken", Token),
            new("Gateway:ModelManager:LoadingKeepAliveInterval", "00:00:00.250"),
            new("Gateway:ModelManager:ActivityReportInterval", "00:00:00.200"),
        ]);
    }

    public async ValueTask DisposeAsync()
    {
        if (gateway is not null)
        {
            await gateway.DisposeAsync();
        }

        managerClient?.Dispose();
        if (manager is not null)
        {
            await manager.StopAsync(CancellationToken.None);
            await manager.DisposeAsync();
        }

        stateDirectory.Delete(recursive: true);
    }

    [Fact]
    public async Task A_cold_model_starts_on_its_first_request_outlives_its_idle_timeout_while_streaming_and_then_stops()
    {
        await ModelManagerRoutingTests.WaitForStateAsync(Gateway, "streamer", "stopped");

        using var response = await Gateway.Client.SendAsync(OpenAiRequests.Chat("streamer", stream: true), HttpCompletionOption.ResponseHeadersRead, Cancellation);
        var body = await response.Content.ReadAsStringAsync(Cancellation);
        var stateWhenTheStreamEnded = await ManagerStateAsync("streamer");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith(": loading model 'streamer'", body, StringComparison.Ordinal);
        var events = body.Split('\n').Where(line => line.StartsWith("data: ", StringComparison.Ordinal)).Select(line => line["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, data => data.Contains("\"error\"", StringComparison.Ordinal));
        // 40 tokens at 20/s: the stream ran about twice the 1-second idle timeout, and the model was still up at its end.
        Assert.True(events.Count >= 40, $"expected every token of the stream, got {events.Count} events");
        Assert.Equal("ready", stateWhenTheStreamEnded);

        await Eventually.HoldsAsync(async () => await ManagerStateAsync("streamer") == "stopped", "the model stops once idle for 1 s");
        await ModelManagerRoutingTests.WaitForStateAsync(Gateway, "streamer", "stopped");
        Assert.Equal(["starting", "ready", "stopping", "stopped"], await EventsAsync("streamer"));
    }

    [Fact]
    public async Task Concurrent_first_requests_start_one_server_and_are_all_answered()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await Gateway.Client.SendAsync(OpenAiRequests.Chat("quick", stream: i % 2 == 0, prompt: $"request {i}"), Cancellation);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync(Cancellation));
        }));

        Assert.All(responses, response => Assert.True(response.StatusCode == HttpStatusCode.OK, response.Body));
        Assert.All(responses, response => Assert.DoesNotContain("\"error\"", response.Body, StringComparison.Ordinal));
        Assert.Equal(["starting", "ready"], await EventsAsync("quick"));
        await ModelManagerRoutingTests.WaitForStateAsync(Gateway, "quick", "ready");
    }

    private static IEnumerable<string> SimulatorEntry(string id, string idleTimeout, params string[] simulatorArgs)
    {
        var prefix = $"--ModelManager:Models:{id}:";
        string[] settings =
        [
            prefix + "Runtime", "Process",
            prefix + "Command", "dotnet",
            prefix + "WorkingDirectory", AppContext.BaseDirectory,
            prefix + "IdleTimeout", idleTimeout,
            prefix + "StartupTimeout", "00:01:00",
            prefix + "StopTimeout", "00:00:05",
        ];
        string[] args = ["VllmSimulator.dll", "--urls", "http://127.0.0.1:{port}", "--model", "{model}", .. simulatorArgs];
        return settings.Concat(args.SelectMany((argument, index) => new[] { $"{prefix}Args:{index}", argument }));
    }

    private async Task<string?> ManagerStateAsync(string model) =>
        (string?)JsonNode.Parse(await managerClient!.GetStringAsync($"/api/models/{model}", Cancellation))!["state"];

    private async Task<List<string>> EventsAsync(string model)
    {
        var events = JsonNode.Parse(await managerClient!.GetStringAsync($"/api/events?model={model}", Cancellation))!["events"]!.AsArray();
        return [.. events.Select(e => (string)e!["event"]!)];
    }
}
