using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Api.Admission;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// The gateway's side of ModelManager (docs/modelmanager.md, "How a gateway uses it"), against a ModelManager double
/// whose answers and timing the tests set: on-demand loading, loading keep-alives, re-ensure on a refused connect,
/// activity reports, and what happens while ModelManager is unreachable.
/// </summary>
public sealed class ModelManagerRoutingTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public static IEnumerable<KeyValuePair<string, string>> ManagerSettings(Uri manager) =>
    [
        new("services:modelmanager:http:0", manager.ToString()),
        new("Gateway:ModelManager:ApiToken", FakeModelManager.Token),
        new("Gateway:ModelManager:LoadingKeepAliveInterval", "00:00:00.200"),
        new("Gateway:ModelManager:ActivityReportInterval", "00:00:00.200"),
        new("Gateway:ModelManager:ChangePollTimeout", "00:00:02"),
    ];

    [Fact]
    public async Task Concurrent_requests_for_a_cold_model_share_one_ensure_and_are_all_answered()
    {
        await using var platform = await ColdModel.StartAsync("cold", TimeSpan.FromMilliseconds(500));
        var (simulator, manager, gateway) = platform;

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using var response = await gateway.Client.SendAsync(OpenAiRequests.Chat("cold", prompt: $"request {i}"), Cancellation);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync(Cancellation));
        }));

        Assert.All(responses, response => Assert.True(response.StatusCode == HttpStatusCode.OK, response.Body));
        Assert.Equal([("cold", false)], manager.EnsureCalls);
        Assert.Equal(30, simulator.State.RequestsCompleted);
        Assert.Equal("ready", await StateAsync(gateway, "cold"));
    }

    [Fact]
    public async Task Requests_for_a_loading_model_hold_its_admission_slots_and_beyond_its_queue_get_429()
    {
        // A Gateway:Models entry without an endpoint holds the gateway's settings for a catalog model.
        await using var platform = await ColdModel.StartAsync("bounded", TimeSpan.FromMilliseconds(1_500), maxConcurrency: 2, ("MaxQueue", "1"));
        var (_, manager, gateway) = platform;

        var requests = Enumerable.Range(0, 5).Select(async i =>
        {
            using var response = await gateway.Client.SendAsync(OpenAiRequests.Chat("bounded", prompt: $"request {i}"), Cancellation);
            return response.StatusCode;
        }).ToList();
        var queues = gateway.Services.GetRequiredService<AdmissionQueues>();
        // Two hold the slots while the model loads and one waits for a slot: none is in flight yet, all three are queued.
        await Eventually.HoldsAsync(() => queues.All.Any(queue => queue is { Model: "bounded", InFlight: 0, Queued: 3 }),
            "three requests wait while the model loads");
        var statuses = await Task.WhenAll(requests);

        Assert.Equal(3, statuses.Count(status => status == HttpStatusCode.OK));
        Assert.Equal(2, statuses.Count(status => status == HttpStatusCode.TooManyRequests));
        Assert.Equal([("bounded", false)], manager.EnsureCalls);
        Assert.Equal(2, gateway.Queue("bounded").MaxConcurrent);
    }

    [Fact]
    public async Task A_streaming_client_hears_loading_comments_then_the_models_events()
    {
        await using var platform = await ColdModel.StartAsync("slow", TimeSpan.FromMilliseconds(1_200));
        var gateway = platform.Gateway;

        using var response = await gateway.Client.SendAsync(OpenAiRequests.Chat("slow", stream: true), HttpCompletionOption.ResponseHeadersRead, Cancellation);
        var lines = (await response.Content.ReadAsStringAsync(Cancellation)).Split('\n');

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var comments = lines.TakeWhile(line => !line.StartsWith("data:", StringComparison.Ordinal)).Where(line => line.StartsWith(':')).ToList();
        Assert.True(comments.Count >= 3, $"expected a loading comment at once and every 200 ms of a 1.2 s load, got: {string.Join(" | ", comments)}");
        Assert.All(comments, comment => Assert.StartsWith(": loading model 'slow'", comment, StringComparison.Ordinal));
        var events = lines.Where(line => line.StartsWith("data: ", StringComparison.Ordinal)).Select(line => line["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", events[^1]);
        Assert.All(events[..^1], data => Assert.True(JsonNode.Parse(data)!["choices"] is not null, data));
        Assert.DoesNotContain(events, data => data.Contains("\"error\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_load_that_fails_is_a_503_or_for_a_stream_under_way_an_error_event()
    {
        await using var manager = await FakeModelManager.StartAsync();
        manager.Set("broken", "stopped");
        manager.OnEnsure = async (id, _) =>
        {
            await Task.Delay(400, Cancellation);
            return FakeModelManager.Error(503, $"Model '{id}' failed to start: CUDA out of memory", "model_unavailable", retryAfterSeconds: 7);
        };
        await using var gateway = await GatewayServer.StartAsync(ManagerSettings(manager.BaseAddress));
        await WaitForStateAsync(gateway, "broken", "stopped");

        using var plain = await gateway.Client.SendAsync(OpenAiRequests.Chat("broken"), Cancellation);
        var error = JsonNode.Parse(await plain.Content.ReadAsStringAsync(Cancellation))!["error"]!;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, plain.StatusCode);
        Assert.Contains("CUDA out of memory", (string)error["message"]!, StringComparison.Ordinal);
        Assert.Equal("model_unavailable", (string?)error["code"]);
        Assert.Equal(TimeSpan.FromSeconds(7), plain.Headers.RetryAfter?.Delta);

        using var stream = await gateway.Client.SendAsync(OpenAiRequests.Chat("broken", stream: true), Cancellation);
        var body = await stream.Content.ReadAsStringAsync(Cancellation);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.StartsWith(": loading model 'broken'", body, StringComparison.Ordinal);
        var events = body.Split('\n').Where(line => line.StartsWith("data: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, events.Count);
        Assert.Contains("CUDA out of memory", (string)JsonNode.Parse(events[0]["data: ".Length..])!["error"]!["message"]!, StringComparison.Ordinal);
        Assert.Equal("data: [DONE]", events[1]);
    }

    [Fact]
    public async Task A_model_ModelManager_reports_sleeping_is_not_routed_but_ensured_like_a_stopped_one()
    {
        await using var simulator = await SimulatorServer.StartAsync("napping");
        await using var manager = await FakeModelManager.StartAsync();
        manager.Set("napping", "ready", simulator.BaseAddress);
        await using var gateway = await GatewayServer.StartAsync(ManagerSettings(manager.BaseAddress));
        await WaitForStateAsync(gateway, "napping", "ready");

        // Asleep, its server still runs (and may be listed) at the same endpoint, but takes no request until ensure woke it.
        manager.Set("napping", "sleeping", simulator.BaseAddress);
        manager.OnEnsure = (id, _) => Task.FromResult(manager.Ready(id, simulator.BaseAddress));
        await WaitForStateAsync(gateway, "napping", "sleeping");
        using var plain = await gateway.Client.SendAsync(OpenAiRequests.Chat("napping"), Cancellation);
        manager.Set("napping", "sleeping", simulator.BaseAddress);
        await WaitForStateAsync(gateway, "napping", "sleeping");
        using var stream = await gateway.Client.SendAsync(OpenAiRequests.Chat("napping", stream: true), Cancellation);

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.EndsWith("data: [DONE]\n\n", await stream.Content.ReadAsStringAsync(Cancellation), StringComparison.Ordinal);
        Assert.Equal([("napping", false), ("napping", false)], manager.EnsureCalls);
        Assert.Equal(2, simulator.State.RequestsCompleted);
    }

    [Fact]
    public async Task A_server_that_refuses_connections_is_ensured_again_once_before_the_first_byte()
    {
        await using var simulator = await SimulatorServer.StartAsync("moved");
        await using var manager = await FakeModelManager.StartAsync();
        manager.Set("moved", "ready", new Uri($"http://127.0.0.1:{Loopback.FreePort()}/"));
        manager.OnEnsure = (id, verify) => Task.FromResult(verify
            ? manager.Ready(id, simulator.BaseAddress)
            : FakeModelManager.Error(500, "a plain ensure was not expected", "unexpected"));
        await using var gateway = await GatewayServer.StartAsync(ManagerSettings(manager.BaseAddress));
        await WaitForStateAsync(gateway, "moved", "ready");

        using var first = await gateway.Client.SendAsync(OpenAiRequests.Chat("moved"), Cancellation);
        using var second = await gateway.Client.SendAsync(OpenAiRequests.Chat("moved"), Cancellation);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal([("moved", true)], manager.EnsureCalls);
        Assert.Equal(2, simulator.State.RequestsCompleted);
    }

    [Fact]
    public async Task A_server_that_stays_unreachable_after_the_re_ensure_is_a_503_that_says_so()
    {
        await using var manager = await FakeModelManager.StartAsync();
        var dead = new Uri($"http://127.0.0.1:{Loopback.FreePort()}/");
        manager.Set("gone", "ready", dead);
        manager.OnEnsure = (id, _) => Task.FromResult(FakeModelManager.Error(503, $"Model '{id}' failed to start: exited with code 1", "model_unavailable"));
        await using var gateway = await GatewayServer.StartAsync(ManagerSettings(manager.BaseAddress));
        await WaitForStateAsync(gateway, "gone", "ready");

        using var response = await gateway.Client.SendAsync(OpenAiRequests.Chat("gone"), Cancellation);
        var message = (string)JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["error"]!["message"]!;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("refused connections", message, StringComparison.Ordinal);
        Assert.Contains("exited with code 1", message, StringComparison.Ordinal);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal([("gone", true)], manager.EnsureCalls);
    }

    [Fact]
    public async Task Warm_models_keep_serving_when_ModelManager_goes_away_and_cold_ones_get_a_503_that_says_why()
    {
        await using var simulator = await SimulatorServer.StartAsync("warm");
        await using var fixedSimulator = await SimulatorServer.StartAsync("fixed");
        var manager = await FakeModelManager.StartAsync();
        manager.Set("warm", "ready", simulator.BaseAddress);
        manager.Set("cold", "stopped");
        await using var gateway = await GatewayServer.StartAsync(
            [.. ManagerSettings(manager.BaseAddress), .. GatewayServer.ModelSettings("fixed", fixedSimulator.BaseAddress)]);
        await WaitForStateAsync(gateway, "warm", "ready");
        await manager.DisposeAsync();

        using var warm = await gateway.Client.SendAsync(OpenAiRequests.Chat("warm"), Cancellation);
        using var fixedModel = await gateway.Client.SendAsync(OpenAiRequests.Chat("fixed"), Cancellation);
        using var cold = await gateway.Client.SendAsync(OpenAiRequests.Chat("cold"), Cancellation);

        Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fixedModel.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, cold.StatusCode);
        var error = JsonNode.Parse(await cold.Content.ReadAsStringAsync(Cancellation))!["error"]!;
        Assert.Equal("model_manager_unreachable", (string?)error["code"]);
        Assert.Contains("'modelmanager'", (string)error["message"]!, StringComparison.Ordinal);
        Assert.NotNull(cold.Headers.RetryAfter);
        await Eventually.HoldsAsync(async () =>
        {
            using var health = await gateway.Client.GetAsync("/health", Cancellation);
            return health.StatusCode == HttpStatusCode.OK && await health.Content.ReadAsStringAsync(Cancellation) == "Degraded";
        }, "the gateway stays ready but reports itself degraded");
    }

    [Fact]
    public async Task After_ModelManager_restarts_the_gateway_follows_its_new_catalog()
    {
        await using var before = await SimulatorServer.StartAsync("m");
        await using var after = await SimulatorServer.StartAsync("m");
        await using var manager = await FakeModelManager.StartAsync();
        for (var i = 0; i < 5; i++)
        {
            manager.Set("m", "ready", before.BaseAddress);
        }

        await using var gateway = await GatewayServer.StartAsync(ManagerSettings(manager.BaseAddress));
        await WaitForStateAsync(gateway, "m", "ready");
        using (var first = await gateway.Client.SendAsync(OpenAiRequests.Chat("m"), Cancellation))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        // The restarted ModelManager's versions are lower than those the gateway has seen.
        manager.Restart();
        manager.Set("m", "ready", after.BaseAddress);
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await gateway.Client.SendAsync(OpenAiRequests.Chat("m"), Cancellation);
            return response.StatusCode == HttpStatusCode.OK && after.State.RequestsCompleted > 0;
        }, "requests reach the server the restarted ModelManager reports");

        Assert.Empty(manager.EnsureCalls);
    }

    [Fact]
    public async Task Before_the_catalog_is_known_a_request_asks_ModelManager_and_fixed_models_are_untouched()
    {
        await using var fixedSimulator = await SimulatorServer.StartAsync("fixed");
        var nowhere = new Uri($"http://127.0.0.1:{Loopback.FreePort()}/");
        await using var gateway = await GatewayServer.StartAsync(
            [.. ManagerSettings(nowhere), .. GatewayServer.ModelSettings("fixed", fixedSimulator.BaseAddress)]);

        using var fixedModel = await gateway.Client.SendAsync(OpenAiRequests.Chat("fixed"), Cancellation);
        using var unknown = await gateway.Client.SendAsync(OpenAiRequests.Chat("anything"), Cancellation);
        var models = await ModelsAsync(gateway);

        Assert.Equal(HttpStatusCode.OK, fixedModel.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unknown.StatusCode);
        Assert.Equal("model_manager_unreachable", (string?)JsonNode.Parse(await unknown.Content.ReadAsStringAsync(Cancellation))!["error"]!["code"]);
        var listed = Assert.Single(models);
        Assert.Equal("fixed", (string?)listed!["id"]);
        Assert.Null(listed!["state"]);
    }

    [Fact]
    public async Task Once_the_catalog_is_known_other_ids_are_404_without_asking_ModelManager()
    {
        await using var manager = await FakeModelManager.StartAsync();
        manager.Set("only", "stopped");
        await using var gateway = await GatewayServer.StartAsync(ManagerSettings(manager.BaseAddress));
        await WaitForStateAsync(gateway, "only", "stopped");

        using var response = await gateway.Client.SendAsync(OpenAiRequests.Chat("other"), Cancellation);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model_not_found", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["error"]!["code"]);
        Assert.Empty(manager.EnsureCalls);
    }

    [Fact]
    public async Task Activity_reports_carry_requests_in_flight_and_the_idle_time_after_they_end()
    {
        await using var simulator = await SimulatorServer.StartAsync("busy", "--output-tokens", "30", "--tokens-per-second", "20");
        await using var manager = await FakeModelManager.StartAsync();
        manager.Set("busy", "ready", simulator.BaseAddress);
        await using var gateway = await GatewayServer.StartAsync(ManagerSettings(manager.BaseAddress));
        await WaitForStateAsync(gateway, "busy", "ready");

        using var stream = await gateway.Client.SendAsync(OpenAiRequests.Chat("busy", stream: true), HttpCompletionOption.ResponseHeadersRead, Cancellation);
        await Eventually.HoldsAsync(() => Activity(manager, "busy") is { InFlight: 1 }, "a report says one request is in flight");
        await stream.Content.ReadAsStringAsync(Cancellation);
        await Eventually.HoldsAsync(() => Activity(manager, "busy") is { InFlight: 0, IdleSeconds: > 0.3 }, "a later report says none is, idle for a while");

        Assert.All(manager.ActivityReports, report => Assert.False(string.IsNullOrWhiteSpace((string?)report["replica"])));
        Assert.Single(manager.ActivityReports.Select(report => (string?)report["replica"]).Distinct());
    }

    [Fact]
    public async Task Activity_reports_count_requests_waiting_for_their_model_to_load_as_queued_not_in_flight()
    {
        await using var cold = await ColdModel.StartAsync("cold", loadTime: TimeSpan.FromSeconds(2));

        var request = cold.Gateway.Client.SendAsync(OpenAiRequests.Chat("cold"), Cancellation);
        await Eventually.HoldsAsync(() => Activity(cold.Manager, "cold") is { InFlight: 0, Queued: 1 }, "a report says one request waits for the model");
        using var response = await request;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Eventually.HoldsAsync(() => Activity(cold.Manager, "cold") is { InFlight: 0, Queued: 0 }, "a later report says nothing waits or runs");
        Assert.Equal(0, cold.Gateway.Queue("cold").Queued);
    }

    private static (int InFlight, double IdleSeconds, int Queued)? Activity(FakeModelManager manager, string model) =>
        manager.ActivityReports.LastOrDefault()?["models"]?[model] is { } entry
            ? ((int)entry["inFlight"]!, (double)entry["idleSeconds"]!, (int)entry["queued"]!)
            : null;

    private static async Task<JsonArray> ModelsAsync(GatewayServer gateway) =>
        JsonNode.Parse(await gateway.Client.GetStringAsync("/v1/models", Cancellation))!["data"]!.AsArray();

    private static async Task<string?> StateAsync(GatewayServer gateway, string model) =>
        (await ModelsAsync(gateway)).FirstOrDefault(entry => (string?)entry?["id"] == model) is { } entry ? (string?)entry["state"] : null;

    internal static Task WaitForStateAsync(GatewayServer gateway, string model, string state) =>
        Eventually.HoldsAsync(async () => await StateAsync(gateway, model) == state, $"the gateway lists {model} as {state}");

    /// <summary>A simulator, a ModelManager double that "loads" it for a while on ensure, and a gateway that lists it as stopped.</summary>
    private sealed record ColdModel(SimulatorServer Simulator, FakeModelManager Manager, GatewayServer Gateway) : IAsyncDisposable
    {
        public static async Task<ColdModel> StartAsync(string model, TimeSpan loadTime, int maxConcurrency = 8, params (string Key, string Value)[] gatewayModelSettings)
        {
            var simulator = await SimulatorServer.StartAsync(model);
            var manager = await FakeModelManager.StartAsync();
            manager.LoadsAfter(model, simulator.BaseAddress, loadTime, maxConcurrency);
            var gateway = await GatewayServer.StartAsync(
                [.. ManagerSettings(manager.BaseAddress), .. gatewayModelSettings.Select(setting => KeyValuePair.Create($"Gateway:Models:{model}:{setting.Key}", setting.Value))]);
            await WaitForStateAsync(gateway, model, "stopped");
            return new ColdModel(simulator, manager, gateway);
        }

        public async ValueTask DisposeAsync()
        {
            await Gateway.DisposeAsync();
            await Manager.DisposeAsync();
            await Simulator.DisposeAsync();
        }
    }
}
