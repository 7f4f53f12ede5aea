using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;

namespace LlmAspire.VllmSimulator.Tests;

/// <summary>vLLM's sleep mode: only with <c>--enable-sleep-mode</c>; asleep, inference is refused as vLLM refuses it.</summary>
public sealed class SleepModeTests
{
    private const string Chat = """{"messages":[{"role":"user","content":"hi"}]}""";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("POST", "/sleep")]
    [InlineData("POST", "/wake_up")]
    [InlineData("GET", "/is_sleeping")]
    [InlineData("POST", "/collective_rpc")]
    public async Task WithoutTheFlagTheEndpointsAreNotThere(string method, string path)
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync();
        using var response = await host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Cancel);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task AsleepTheEngineRefusesInferenceWith503AndServesAgainOnceWoken()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--enable-sleep-mode");
        Assert.False(await IsSleepingAsync(host));

        await PostAsync(host, "/sleep?level=1");
        Assert.True(await IsSleepingAsync(host));
        using (var refused = await host.Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", Chat), Cancel))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            var error = JsonNode.Parse(await refused.Content.ReadAsStringAsync(Cancel))!["error"]!;
            Assert.Equal("ServiceUnavailableError", (string?)error["type"]);
            Assert.Contains("/wake_up", (string?)error["message"], StringComparison.Ordinal);
        }

        // Readiness stays as it was: vLLM's /health and /v1/models answer while it sleeps.
        using (var health = await host.Client.GetAsync("/health", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        await PostAsync(host, "/wake_up");
        Assert.False(await IsSleepingAsync(host));
        using var served = await host.Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", Chat), Cancel);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var metrics = await host.Client.GetStringAsync("/metrics", Cancel);
        Assert.Contains("simulator_sleeps_total 1.0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("simulator_wake_ups_total 1.0\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Level2DiscardsTheWeightsWhichAreReloadedAfterWakingTheirMemory()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--enable-sleep-mode", "true");
        await PostAsync(host, "/sleep?level=2");

        await PostAsync(host, "/wake_up?tags=weights");
        Assert.True(await IsSleepingAsync(host), "the KV cache is not back yet");
        await PostAsync(host, "/wake_up?tags=kv_cache");
        Assert.False(await IsSleepingAsync(host));
        using (var empty = await host.Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", Chat), Cancel))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, empty.StatusCode);
        }

        await PostAsync(host, "/collective_rpc", """{"method":"reload_weights"}""");
        using var served = await host.Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", Chat), Cancel);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task SleepingAndWakingTakeTheConfiguredTimes()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--enable-sleep-mode", "--sleep-delay-ms", "300", "--wake-delay-ms", "200");

        // The simulator's timer may fire up to a timer tick before the test's stopwatch has counted the whole delay.
        const int TimerTickMs = 16;
        var clock = Stopwatch.StartNew();
        await PostAsync(host, "/sleep");
        Assert.InRange(clock.ElapsedMilliseconds, 300 - TimerTickMs, 5_000);
        clock.Restart();
        await PostAsync(host, "/wake_up");
        Assert.InRange(clock.ElapsedMilliseconds, 200 - TimerTickMs, 5_000);
    }

    [Theory]
    [InlineData("/sleep?level=3", null)]
    [InlineData("/wake_up?tags=everything", null)]
    [InlineData("/collective_rpc", """{"method":"shutdown"}""")]
    [InlineData("/collective_rpc", "not json")]
    public async Task RequestsItCannotCarryOutAreRefusedWith400(string path, string? body)
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--enable-sleep-mode");
        using var response = await host.Client.PostAsync(path, body is null ? null : new StringContent(body), Cancel);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(await IsSleepingAsync(host));
    }

    private static async Task<bool> IsSleepingAsync(SimulatorServer host) =>
        (bool)JsonNode.Parse(await host.Client.GetStringAsync("/is_sleeping", Cancel))!["is_sleeping"]!;

    private static async Task PostAsync(SimulatorServer host, string path, string? body = null)
    {
        using var response = await host.Client.PostAsync(path, body is null ? null : new StringContent(body), Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
