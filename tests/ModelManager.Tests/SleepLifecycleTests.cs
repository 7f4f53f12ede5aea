using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Lifecycle;
using LlmAspire.ModelManager.Tests.Infrastructure;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// Sleep as the idle tier, in virtual time: a fake runtime whose servers are in-process simulators with vLLM's sleep
/// mode, one per model, so every sleep and wake-up is a real call to a real sleep-mode API.
/// </summary>
public sealed class SleepLifecycleTests : VirtualTimeTests
{
    private static readonly TimeSpan SleepAfter = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan StopAfter = TimeSpan.FromMinutes(5);
    private readonly Dictionary<string, SimulatorServer> simulators = [];

    public override async ValueTask DisposeAsync()
    {
        foreach (var simulator in simulators.Values)
        {
            await simulator.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    /// <summary>A fleet of <paramref name="models"/> that sleep after a minute and stop after five, each served by its own simulator.</summary>
    private async Task<FleetHarness> FleetAsync(int maxLoaded = 3, int maxSleeping = 3, int sleepLevel = 1, bool sleepMode = true, params string[] models)
    {
        foreach (var model in models)
        {
            var simulator = await SimulatorServer.StartAsync(model, sleepMode ? ["--enable-sleep-mode"] : []);
            simulators[model] = simulator;
            Runtime.ModelEndpoints[model] = simulator.BaseAddress;
        }

        return Fleet(
            new ModelManagerOptions
            {
                ApiToken = "t",
                MaxLoadedModels = maxLoaded,
                MaxSleepingModels = maxSleeping,
                Models = models.ToDictionary(id => id, _ => new CatalogModelOptions
                {
                    Command = "unused", SleepAfter = SleepAfter, StopAfter = StopAfter, SleepLevel = sleepLevel,
                }),
            });
    }

    [Fact]
    public async Task An_idle_model_sleeps_after_SleepAfter_and_is_stopped_after_StopAfter()
    {
        var fleet = await FleetAsync(models: "m");
        fleet.Activity.Touch("m");
        await fleet["m"].EnsureAsync(Token);

        Time.Advance(SleepAfter - TimeSpan.FromSeconds(1));
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Ready, fleet["m"].State);

        Time.Advance(TimeSpan.FromSeconds(1));
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Sleeping, fleet["m"].State);
        Assert.Null(fleet["m"].Endpoint);
        Assert.Equal("m-1", fleet["m"].Instance);
        Assert.True(await IsSleepingAsync("m"));
        Assert.Equal((0, 1), (fleet.Fleet.LoadedCount, fleet.Fleet.SleepingCount));
        var slept = fleet.Events.Recent("m").Last();
        Assert.Equal(("sleeping", "level 1: idle for 00:01:00"), (slept.Event, slept.Detail));
        Assert.NotNull(slept.DurationMs);

        Time.Advance(StopAfter - SleepAfter);
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Stopped, fleet["m"].State);
        Assert.Equal(["m"], Runtime.Stopped);
        Assert.Equal(["starting", "ready", "sleeping", "stopping", "stopped"], fleet.EventsOf("m"));
    }

    [Fact]
    public async Task Fifty_concurrent_ensures_of_a_sleeping_model_wake_it_once_without_starting_another_server()
    {
        var fleet = await FleetAsync(models: "m");
        await PutToSleepAsync(fleet, "m");

        var endpoints = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => fleet["m"].EnsureAsync(Token), Token)));

        Assert.Single(endpoints.Distinct());
        Assert.Equal(ModelState.Ready, fleet["m"].State);
        Assert.Equal(1, Runtime.Starts);
        Assert.Equal(1, await WakeUpsAsync("m"));
        Assert.Equal(["starting", "ready", "sleeping", "woken"], fleet.EventsOf("m"));
        Assert.Equal("level 1", fleet.Events.Recent("m").Last().Detail);
        Assert.False(await IsSleepingAsync("m"));
        using var answer = await simulators["m"].Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", ChatBody("m")), Token);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task Waking_from_level_2_reloads_the_weights_it_discarded()
    {
        var fleet = await FleetAsync(sleepLevel: 2, models: "m");
        await PutToSleepAsync(fleet, "m");
        Assert.Equal("level 2: idle for 00:01:00", fleet.Events.Recent("m").Last().Detail);

        await fleet["m"].EnsureAsync(Token);

        using var answer = await simulators["m"].Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", ChatBody("m")), Token);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal(2, await WakeUpsAsync("m"));
    }

    [Fact]
    public async Task A_server_that_does_not_wake_is_stopped_and_replaced_by_a_new_one_in_the_same_ensure()
    {
        var fleet = await FleetAsync(models: "m");
        await PutToSleepAsync(fleet, "m");
        Runtime.StopListening("m", new Uri($"http://127.0.0.1:{Runtimes.ServerArguments.FreeLoopbackPort()}/"));

        await fleet["m"].EnsureAsync(Token);

        Assert.Equal(ModelState.Ready, fleet["m"].State);
        Assert.Equal(2, Runtime.Starts);
        Assert.Equal(["m"], Runtime.Stopped);
        Assert.Equal("m-2", fleet["m"].Instance);
        Assert.Equal(["starting", "ready", "sleeping", "stopped", "starting", "ready"], fleet.EventsOf("m"));
        Assert.Contains("Waking the server failed", fleet.Events.Recent("m").Single(e => e.Event == "stopped").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_cannot_sleep_is_stopped_instead_saying_why_and_the_next_ensure_starts_it_again()
    {
        var fleet = await FleetAsync(sleepMode: false, models: "m");
        await fleet["m"].EnsureAsync(Token);

        Time.Advance(SleepAfter);
        await fleet.Reaper.ReapAsync();

        Assert.Equal(ModelState.Stopped, fleet["m"].State);
        Assert.Equal(["m"], Runtime.Stopped);
        Assert.Contains("could not be put to sleep", fleet["m"].LastError, StringComparison.Ordinal);
        Assert.Contains("404", fleet["m"].LastError, StringComparison.Ordinal);
        Assert.Equal(["starting", "ready", "stopping", "stopped"], fleet.EventsOf("m"));
        await fleet["m"].EnsureAsync(Token);
        Assert.Equal(2, Runtime.Starts);
    }

    [Fact]
    public async Task Loading_past_the_budget_puts_the_least_recently_used_model_to_sleep_where_it_takes_no_room()
    {
        var fleet = await FleetAsync(maxLoaded: 1, models: ["a", "b"]);
        await fleet["a"].EnsureAsync(Token);
        Time.Advance(TimeSpan.FromSeconds(20));

        await fleet["b"].EnsureAsync(Token);

        Assert.Equal((ModelState.Sleeping, ModelState.Ready), (fleet["a"].State, fleet["b"].State));
        Assert.Empty(Runtime.Stopped);
        Assert.Equal((1, 1), (fleet.Fleet.LoadedCount, fleet.Fleet.SleepingCount));
        Assert.Equal("level 1: evicted (least recently used) to load b", fleet.Events.Recent("a").Last().Detail);

        // And back: "a" wakes in place, and "b" goes to sleep to make room for it.
        Time.Advance(TimeSpan.FromSeconds(20));
        await fleet["a"].EnsureAsync(Token);
        Assert.Equal((ModelState.Ready, ModelState.Sleeping), (fleet["a"].State, fleet["b"].State));
        Assert.Equal(2, Runtime.Starts);
        Assert.Equal(["starting", "ready", "sleeping", "woken"], fleet.EventsOf("a"));
    }

    [Fact]
    public async Task With_the_sleeping_models_at_their_limit_a_sleeping_model_is_stopped_before_an_idle_awake_one()
    {
        var fleet = await FleetAsync(maxLoaded: 1, maxSleeping: 1, models: ["a", "b", "c"]);
        await fleet["a"].EnsureAsync(Token);
        Time.Advance(TimeSpan.FromSeconds(20));
        await fleet["b"].EnsureAsync(Token);
        Time.Advance(TimeSpan.FromSeconds(20));

        await fleet["c"].EnsureAsync(Token);

        Assert.Equal((ModelState.Stopped, ModelState.Sleeping, ModelState.Ready), (fleet["a"].State, fleet["b"].State, fleet["c"].State));
        Assert.Equal(["a"], Runtime.Stopped);
        Assert.Equal(["starting", "ready", "sleeping", "evicted", "stopped"], fleet.EventsOf("a"));
        Assert.Contains("so that b can sleep", fleet.Events.Recent("a").Single(e => e.Event == "evicted").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wake_refused_for_capacity_leaves_the_model_asleep_with_its_server()
    {
        var fleet = await FleetAsync(maxLoaded: 1, models: ["a", "b"]);
        await PutToSleepAsync(fleet, "a");
        await fleet["b"].EnsureAsync(Token);
        fleet.Activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["b"] = new(1, 0) });

        var refused = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet["a"].EnsureAsync(Token));

        Assert.Equal("capacity_exhausted", refused.Code);
        Assert.Equal(ModelState.Sleeping, fleet["a"].State);
        Assert.Equal("a-1", fleet["a"].Instance);
        Assert.True(await IsSleepingAsync("a"));
    }

    [Fact]
    public async Task Stopping_a_sleeping_model_ends_its_server()
    {
        var fleet = await FleetAsync(models: "m");
        await PutToSleepAsync(fleet, "m");

        Assert.True(await fleet["m"].StopAsync("asked to"));

        Assert.Equal(ModelState.Stopped, fleet["m"].State);
        Assert.Equal(["m"], Runtime.Stopped);
    }

    [Fact]
    public async Task A_server_left_asleep_by_a_previous_ModelManager_is_adopted_asleep_and_woken_by_the_next_ensure()
    {
        var fleet = await FleetAsync(models: "m");
        using (var sleep = await simulators["m"].Client.PostAsync("/sleep?level=1", null, Token))
        {
            Assert.Equal(HttpStatusCode.OK, sleep.StatusCode);
        }

        Runtime.LeaveRunning("m");
        await fleet["m"].AdoptAsync(Token);
        Assert.Equal(ModelState.Sleeping, fleet["m"].State);
        Assert.Equal("left-m", fleet["m"].Instance);

        await fleet["m"].EnsureAsync(Token);
        Assert.Equal(ModelState.Ready, fleet["m"].State);
        Assert.Equal(0, Runtime.Starts);
        Assert.Equal(["adopted", "woken"], fleet.EventsOf("m"));
        Assert.Equal("asleep", fleet.Events.Recent("m")[0].Detail);
    }

    private static string ChatBody(string model) => $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""";

    private async Task PutToSleepAsync(FleetHarness fleet, string model)
    {
        await fleet[model].EnsureAsync(Token);
        Time.Advance(SleepAfter);
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Sleeping, fleet[model].State);
    }

    private async Task<bool> IsSleepingAsync(string model) =>
        (bool)JsonNode.Parse(await simulators[model].Client.GetStringAsync("/is_sleeping", Token))!["is_sleeping"]!;

    private async Task<int> WakeUpsAsync(string model)
    {
        var metrics = await simulators[model].Client.GetStringAsync("/metrics", Token);
        var line = metrics.Split('\n').Single(l => l.StartsWith("simulator_wake_ups_total ", StringComparison.Ordinal));
        return (int)double.Parse(line["simulator_wake_ups_total ".Length..], CultureInfo.InvariantCulture);
    }
}
