using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmAspire.ModelManager.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers.Processes;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// Sleep as the idle tier over real HTTP: ModelManager runs the simulator with vLLM's sleep mode as a local process,
/// puts it to sleep when idle and wakes the same process on the next ensure; a gateway in front treats a sleeping model
/// as not loaded.
/// </summary>
public sealed class SleepModeProcessTests : ProcessModelManagerTests
{
    /// <summary>ModelManager with one model, <c>sim</c>, that sleeps after <paramref name="sleepAfter"/> and stops after an hour.</summary>
    private Task<ModelManagerHost> StartAsync(string sleepAfter, bool stopModelsOnShutdown = true, params KeyValuePair<string, string>[] settings) =>
        Managers.StartAsync(
            stopModelsOnShutdown,
            TestCatalog.SimulatorProcess("sim", idleTimeout: "01:00:00", simulatorArgs: ["--enable-sleep-mode", "--sleep-delay-ms", "100", "--wake-delay-ms", "100"]),
            [TestCatalog.Setting("Models:sim:SleepAfter", sleepAfter), .. settings]);

    [Fact]
    public async Task An_idle_model_sleeps_refuses_inference_asleep_and_the_next_ensure_wakes_the_same_process()
    {
        var host = await StartAsync("00:00:02", settings: TestCatalog.Setting("Models:sim:SleepLevel", "2"));
        var ensured = await host.EnsureAsync("sim");
        var endpoint = new Uri((string)ensured["endpoint"]!);
        Assert.Equal(2.0, (double?)ensured["sleepAfterSeconds"]);
        Assert.Equal((DateTimeOffset)ensured["lastActivity"]! + TimeSpan.FromSeconds(2), (DateTimeOffset)ensured["idleSleepAt"]!);

        await AsleepAsync(host);
        var asleep = await host.GetAsync("sim");
        Assert.Null(asleep["endpoint"]);
        Assert.Equal(Pid(ensured), Pid(asleep));
        Assert.NotNull(asleep["idleStopAt"]);
        Assert.Null(asleep["idleSleepAt"]);
        var fleet = JsonNode.Parse(await host.Client.GetStringAsync("/api/models", Cancellation))!;
        Assert.Equal((0, 1, 3), ((int)fleet["loadedModels"]!, (int)fleet["sleepingModels"]!, (int)fleet["maxSleepingModels"]!));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await CompleteAsync(endpoint));

        var woken = await host.EnsureAsync("sim");
        // Requests in flight keep it awake while the test talks to it.
        await host.ReportAsync("gateway-1", "sim", inFlight: 1, idleSeconds: 0);
        Assert.Equal("ready", (string?)woken["state"]);
        Assert.Equal(Pid(ensured), Pid(woken));
        Assert.Equal(endpoint, new Uri((string)woken["endpoint"]!));
        Assert.Equal(HttpStatusCode.OK, await CompleteAsync(endpoint));

        var events = JsonNode.Parse(await host.Client.GetStringAsync("/api/events?model=sim", Cancellation))!["events"]!.AsArray();
        Assert.Equal(["starting", "ready", "sleeping", "woken"], events.Select(e => (string)e!["event"]!));
        Assert.All(events.Skip(2), e => Assert.True((double)e!["durationMs"]! >= 100, "sleeping and waking take the simulator's 100 ms at least"));
        Assert.Equal("level 2: idle for 00:00:02", (string?)events[2]!["detail"]);
    }

    [Fact]
    public async Task The_change_feed_shows_the_model_sleeping_without_an_endpoint_then_starting_and_ready_again_when_woken()
    {
        var host = await StartAsync("00:00:01");
        var endpoint = (string?)(await host.EnsureAsync("sim"))["endpoint"];
        await using var stream = await ChangeStream.OpenAsync(host.Client);

        var asleep = await stream.WaitForAsync("sim", view => (string?)view["state"] == "sleeping", "the model sleeping");
        Assert.Null(asleep["endpoint"]);
        var wake = host.EnsureAsync("sim");
        await stream.WaitForAsync("sim", view => (string?)view["state"] == "starting", "the model waking");
        var woken = await stream.WaitForAsync("sim", view => (string?)view["state"] == "ready", "the model awake");
        Assert.Equal(endpoint, (string?)woken["endpoint"]);
        Assert.True((long)woken["version"]! > (long)asleep["version"]!);
        await wake;
    }

    [Fact]
    public async Task A_model_left_asleep_by_a_ModelManager_is_adopted_asleep_by_the_next_and_woken_in_place()
    {
        var first = await StartAsync("00:00:01", stopModelsOnShutdown: false);
        var pid = Pid(await first.EnsureAsync("sim"));
        await AsleepAsync(first);
        await Managers.StopAsync(first);

        var second = await StartAsync("00:00:01");
        var adopted = await second.GetAsync("sim");
        Assert.Equal(("sleeping", pid), ((string?)adopted["state"], Pid(adopted)));

        var woken = await second.EnsureAsync("sim");
        Assert.Equal(("ready", pid), ((string?)woken["state"], Pid(woken)));
        Assert.Equal(["adopted", "woken"], (await second.EventsAsync("sim")).Take(2));
    }

    [Fact]
    public async Task A_server_that_hangs_when_woken_is_stopped_after_WakeTimeout_and_a_new_one_started()
    {
        var host = await StartAsync(
            "00:00:01", settings: [TestCatalog.Setting("Models:sim:WakeTimeout", "00:00:02"), TestCatalog.Setting("Models:sim:StopTimeout", "00:00:01")]);
        var pid = Pid(await host.EnsureAsync("sim"));
        await AsleepAsync(host);
        Assert.True(Signals.Send(pid, Signals.SigStop));

        var replaced = await host.EnsureAsync("sim");

        Assert.Equal("ready", (string?)replaced["state"]);
        Assert.NotEqual(pid, Pid(replaced));
        await Eventually.HoldsAsync(() => !ProcessTree.IsRunning(pid), "the hung server is gone");
        var events = JsonNode.Parse(await host.Client.GetStringAsync("/api/events?model=sim", Cancellation))!["events"]!.AsArray();
        Assert.Equal(["starting", "ready", "sleeping", "stopped", "starting", "ready"], events.Select(e => (string)e!["event"]!));
        Assert.Contains("did not answer within WakeTimeout", (string?)events[3]!["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_through_the_gateway_for_a_sleeping_model_wakes_it_and_is_answered()
    {
        var host = await StartAsync("00:00:01");
        await host.EnsureAsync("sim");
        await AsleepAsync(host);
        var gateway = await host.StartGatewayAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.First()), Timeout = TimeSpan.FromMinutes(1) };
            await Eventually.HoldsAsync(
                async () => JsonNode.Parse(await client.GetStringAsync("/v1/models", Cancellation))!["data"]!.AsArray()
                    .Any(model => (string?)model!["id"] == "sim" && (string?)model["state"] == "sleeping"),
                "the gateway lists the model as sleeping");

            using var response = await client.PostAsync(
                "/v1/chat/completions", new StringContent("""{"model":"sim","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
                Cancellation);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("chat.completion", await response.Content.ReadAsStringAsync(Cancellation), StringComparison.Ordinal);
            Assert.Contains("woken", await host.EventsAsync("sim"));
        }
        finally
        {
            await gateway.StopAsync(CancellationToken.None);
            await gateway.DisposeAsync();
        }
    }

    /// <summary>Waits until the model is asleep: its state says so from the start of the sleep call, its event once the server is.</summary>
    private static Task AsleepAsync(ModelManagerHost host) =>
        Eventually.HoldsAsync(async () => (await host.EventsAsync("sim")).Contains("sleeping"), "the server is asleep");

    /// <summary>A chat completion sent straight to the server; its status.</summary>
    private static async Task<HttpStatusCode> CompleteAsync(Uri endpoint)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var response = await client.PostAsync(
            new Uri(endpoint, "v1/chat/completions"),
            new StringContent("""{"model":"sim","messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"),
            Cancellation);
        return response.StatusCode;
    }
}
