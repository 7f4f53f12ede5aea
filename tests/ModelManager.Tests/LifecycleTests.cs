using System.Diagnostics.Metrics;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Lifecycle;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Telemetry;
using LlmAspire.ModelManager.Tests.Infrastructure;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// Lifecycle rules in virtual time against a fake runtime: single-flight starts, idle reaping, in-flight protection,
/// LRU eviction, backoff, crash detection, adoption.
/// </summary>
public sealed class LifecycleTests : VirtualTimeTests
{
    private FleetHarness Fleet(int maxLoaded = 3, params string[] models) => Fleet(
        new ModelManagerOptions
        {
            ApiToken = "t",
            MaxLoadedModels = maxLoaded,
            FailureBackoff = TimeSpan.FromSeconds(10),
            MaxFailureBackoff = TimeSpan.FromSeconds(60),
            ReplicaGracePeriod = TimeSpan.FromSeconds(30),
            Models = models.ToDictionary(id => id, _ => new CatalogModelOptions { Command = "unused", IdleTimeout = TimeSpan.FromMinutes(5) }),
        });

    private static Dictionary<string, ModelActivity> Busy(string model, int inFlight) => new() { [model] = new ModelActivity(inFlight, 0) };

    private static Dictionary<string, ModelActivity> IdleFor(string model, double seconds) => new() { [model] = new ModelActivity(0, seconds) };

    [Fact]
    public async Task A_hundred_concurrent_ensures_start_the_server_once()
    {
        var fleet = Fleet(models: "m");
        Runtime.StartGate = new TaskCompletionSource();

        var callers = Enumerable.Range(0, 100).Select(_ => Task.Run(() => fleet["m"].EnsureAsync(Token), Token)).ToArray();
        await Eventually.HoldsAsync(() => Runtime.Starts > 0, "the start began");
        Runtime.StartGate.SetResult();
        var endpoints = await Task.WhenAll(callers);

        Assert.Equal(1, Runtime.Starts);
        Assert.Single(endpoints.Distinct());
        Assert.Equal(ModelState.Ready, fleet["m"].State);
        Assert.Equal(["starting", "ready"], fleet.EventsOf("m"));
    }

    [Fact]
    public async Task A_caller_that_gives_up_does_not_cancel_the_start_for_the_others()
    {
        var fleet = Fleet(models: "m");
        Runtime.StartGate = new TaskCompletionSource();
        using var impatient = new CancellationTokenSource();

        var giveUp = fleet["m"].EnsureAsync(impatient.Token);
        var patient = fleet["m"].EnsureAsync(Token);
        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => giveUp);

        Runtime.StartGate.SetResult();
        await patient;
        Assert.Equal(ModelState.Ready, fleet["m"].State);
        Assert.Equal(1, Runtime.Starts);
    }

    [Fact]
    public async Task An_idle_model_is_stopped_after_its_idle_timeout_and_not_before()
    {
        var fleet = Fleet(models: "m");
        fleet.Activity.Touch("m");
        await fleet["m"].EnsureAsync(Token);

        Time.Advance(TimeSpan.FromMinutes(4));
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Ready, fleet["m"].State);

        Time.Advance(TimeSpan.FromMinutes(1));
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Stopped, fleet["m"].State);
        Assert.Equal(["m"], Runtime.Stopped);
        Assert.Equal(["starting", "ready", "stopping", "stopped"], fleet.EventsOf("m"));
    }

    [Fact]
    public async Task A_model_with_requests_in_flight_is_never_stopped_and_its_idle_time_starts_when_they_end()
    {
        var fleet = Fleet(models: "m");
        await fleet["m"].EnsureAsync(Token);

        for (var report = 0; report < 60; report++)
        {
            // A twenty-minute stream: the gateway keeps reporting it in flight, every 20 seconds.
            fleet.Activity.Report("gateway-1", Busy("m", 1));
            Time.Advance(TimeSpan.FromSeconds(20));
            await fleet.Reaper.ReapAsync();
            Assert.Equal(ModelState.Ready, fleet["m"].State);
        }

        // The stream ended 20 s ago; from then on the replica reports the model idle for longer and longer.
        for (var elapsed = 20; elapsed < 300; elapsed += 20)
        {
            fleet.Activity.Report("gateway-1", IdleFor("m", elapsed));
            await fleet.Reaper.ReapAsync();
            Assert.Equal(ModelState.Ready, fleet["m"].State);
            Time.Advance(TimeSpan.FromSeconds(20));
        }

        fleet.Activity.Report("gateway-1", IdleFor("m", 300));
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Stopped, fleet["m"].State);
    }

    [Fact]
    public async Task One_busy_replica_keeps_the_model_even_when_another_reports_it_idle()
    {
        var fleet = Fleet(models: "m");
        await fleet["m"].EnsureAsync(Token);
        Time.Advance(TimeSpan.FromMinutes(10));

        fleet.Activity.Report("gateway-1", IdleFor("m", 600));
        fleet.Activity.Report("gateway-2", Busy("m", 1));
        fleet.Activity.Report("gateway-1", IdleFor("m", 600));
        await fleet.Reaper.ReapAsync();

        Assert.Equal(ModelState.Ready, fleet["m"].State);
        Assert.Equal(1, fleet.Activity.InFlight("m"));
    }

    [Fact]
    public async Task A_replica_that_stops_reporting_is_forgotten_after_the_grace_period()
    {
        var fleet = Fleet(models: "m");
        await fleet["m"].EnsureAsync(Token);
        fleet.Activity.Report("crashed-gateway", Busy("m", 3));

        Time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(3, fleet.Activity.InFlight("m"));
        Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, fleet.Activity.InFlight("m"));

        Time.Advance(TimeSpan.FromMinutes(5));
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Stopped, fleet["m"].State);
    }

    [Fact]
    public void Activity_reports_for_models_outside_the_catalog_are_ignored()
    {
        var fleet = Fleet(models: "m");
        fleet.Activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["m"] = new(1, 0), ["not-in-catalog"] = new(5, 0) });

        Assert.Equal(1, fleet.Activity.InFlight("m"));
        Assert.Equal(0, fleet.Activity.InFlight("not-in-catalog"));
        Assert.Null(fleet.Activity.LastActivity("not-in-catalog"));
    }

    [Fact]
    public async Task Loading_past_the_budget_evicts_the_least_recently_used_idle_model()
    {
        var fleet = Fleet(maxLoaded: 2, "a", "b", "c");
        fleet.Activity.Touch("a");
        await fleet["a"].EnsureAsync(Token);
        Time.Advance(TimeSpan.FromSeconds(10));
        fleet.Activity.Touch("b");
        await fleet["b"].EnsureAsync(Token);
        Time.Advance(TimeSpan.FromSeconds(10));
        // "a" was used after "b" was loaded: "b" is now the least recently used.
        fleet.Activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["a"] = new(0, 1), ["b"] = new(0, 10) });

        fleet.Activity.Touch("c");
        await fleet["c"].EnsureAsync(Token);

        Assert.Equal(["b"], Runtime.Stopped);
        Assert.Equal(ModelState.Ready, fleet["a"].State);
        Assert.Equal(ModelState.Stopped, fleet["b"].State);
        Assert.Equal(ModelState.Ready, fleet["c"].State);
        Assert.Contains("evicted", fleet.EventsOf("b"));
        Assert.Equal(2, fleet.Fleet.LoadedCount);
    }

    [Fact]
    public async Task Eviction_skips_models_with_requests_in_flight_however_old()
    {
        var fleet = Fleet(maxLoaded: 2, "a", "b", "c");
        await fleet["a"].EnsureAsync(Token);
        Time.Advance(TimeSpan.FromSeconds(10));
        await fleet["b"].EnsureAsync(Token);
        Time.Advance(TimeSpan.FromSeconds(30));
        fleet.Activity.Report("gateway-1", Busy("a", 1));

        await fleet["c"].EnsureAsync(Token);

        Assert.Equal(["b"], Runtime.Stopped);
        Assert.Equal(ModelState.Ready, fleet["a"].State);
    }

    [Fact]
    public async Task When_every_loaded_model_is_busy_a_new_one_is_refused_not_queued_behind_them()
    {
        var fleet = Fleet(maxLoaded: 1, "a", "b");
        await fleet["a"].EnsureAsync(Token);
        fleet.Activity.Report("gateway-1", Busy("a", 2));

        var refused = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet["b"].EnsureAsync(Token));

        Assert.Equal("capacity_exhausted", refused.Code);
        Assert.True(refused.RetryAfter > TimeSpan.Zero);
        Assert.Equal(ModelState.Ready, fleet["a"].State);
        Assert.Equal(ModelState.Stopped, fleet["b"].State);
        Assert.Empty(Runtime.Stopped);

        // Not a failure: once "a" is free (and its eviction grace period over), "b" loads at once, without backoff.
        Time.Advance(TimeSpan.FromSeconds(30));
        fleet.Activity.Report("gateway-1", IdleFor("a", 30));
        await fleet["b"].EnsureAsync(Token);
        Assert.Equal(ModelState.Ready, fleet["b"].State);
    }

    [Fact]
    public async Task Concurrent_starts_beyond_the_budget_load_exactly_that_many_and_refuse_the_rest()
    {
        var fleet = Fleet(maxLoaded: 2, "a", "b", "c", "d");
        Runtime.StartGate = new TaskCompletionSource();

        var ensures = new[] { "a", "b", "c", "d" }.Select(id => Task.Run(() => fleet[id].EnsureAsync(Token), Token)).ToArray();
        await Eventually.HoldsAsync(() => ensures.Count(e => e.IsCompleted) == 2, "two starts were refused at once");
        Runtime.StartGate.SetResult();
        var outcomes = await Task.WhenAll(ensures.Select(async ensure =>
        {
            try
            {
                await ensure;
                return "ready";
            }
            catch (ModelUnavailableException refused)
            {
                return refused.Code;
            }
        }));

        Assert.Equal(2, outcomes.Count(outcome => outcome == "ready"));
        Assert.Equal(2, outcomes.Count(outcome => outcome == "capacity_exhausted"));
        Assert.Equal(2, fleet.Fleet.LoadedCount);
        Assert.Equal(2, Runtime.Starts);
    }

    [Fact]
    public async Task A_model_used_within_the_eviction_grace_period_is_not_evicted()
    {
        var fleet = Fleet(maxLoaded: 1, "a", "b");
        fleet.Activity.Touch("a");
        await fleet["a"].EnsureAsync(Token);

        // The gateway that ensured "a" is about to send it requests, but has not reported them yet.
        Time.Advance(TimeSpan.FromSeconds(9));
        var refused = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet["b"].EnsureAsync(Token));
        Assert.Equal("capacity_exhausted", refused.Code);

        Time.Advance(TimeSpan.FromSeconds(1));
        await fleet["b"].EnsureAsync(Token);
        Assert.Equal(["a"], Runtime.Stopped);
    }

    [Fact]
    public async Task A_cold_start_is_measured_phase_by_phase()
    {
        var fleet = Fleet(models: "m");
        Runtime.StartGate = new TaskCompletionSource();
        var ensure = fleet["m"].EnsureAsync(Token);
        await Eventually.HoldsAsync(() => Runtime.Starts == 1, "the runtime was called");
        Time.Advance(TimeSpan.FromSeconds(3));
        Runtime.StartGate.SetResult();
        await ensure;

        var phases = fleet["m"].LastColdStartPhases!;
        Assert.Equal(TimeSpan.FromSeconds(3), phases.Launch);
        Assert.Equal(phases.Total, fleet["m"].LastColdStart);
        Assert.Contains("launch 3000 ms", fleet.Events.Recent("m").Single(e => e.Event == "ready").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Repeated_failures_back_off_exponentially_up_to_the_ceiling()
    {
        var fleet = Fleet(models: "m");
        Runtime.StartFailure = new ModelServerException("no GPU left");

        var first = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet["m"].EnsureAsync(Token));
        Assert.Equal(ModelState.Failed, fleet["m"].State);
        Assert.Contains("no GPU left", fleet["m"].LastError, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(10), first.RetryAfter);

        var backingOff = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet["m"].EnsureAsync(Token));
        Assert.Equal("model_backing_off", backingOff.Code);
        Assert.Equal(1, Runtime.Starts);

        var expected = new[] { 20, 40, 60, 60 };
        foreach (var seconds in expected)
        {
            Time.Advance(fleet["m"].RetryAt!.Value - Time.GetUtcNow());
            var again = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet["m"].EnsureAsync(Token));
            Assert.Equal(TimeSpan.FromSeconds(seconds), again.RetryAfter);
        }

        Assert.Equal(5, Runtime.Starts);
        Runtime.StartFailure = null;
        Time.Advance(TimeSpan.FromSeconds(60));
        await fleet["m"].EnsureAsync(Token);
        Assert.Equal(ModelState.Ready, fleet["m"].State);
        Assert.Null(fleet["m"].LastError);
        Assert.Equal(5, fleet.EventsOf("m").Count(e => e == "failed"));
    }

    [Fact]
    public void Backoff_doubles_from_the_first_wait_and_stops_at_the_ceiling()
    {
        var first = TimeSpan.FromSeconds(5);
        var max = TimeSpan.FromMinutes(5);
        Assert.Equal(TimeSpan.Zero, Backoff.After(0, first, max));
        Assert.Equal(TimeSpan.FromSeconds(5), Backoff.After(1, first, max));
        Assert.Equal(TimeSpan.FromSeconds(40), Backoff.After(4, first, max));
        Assert.Equal(max, Backoff.After(7, first, max));
        Assert.Equal(max, Backoff.After(1_000, first, max));
    }

    [Fact]
    public async Task A_server_that_exits_on_its_own_is_started_again_by_the_next_ensure()
    {
        var fleet = Fleet(models: "m");
        await fleet["m"].EnsureAsync(Token);

        Runtime.Crash("m");
        await Eventually.HoldsAsync(() => fleet["m"].State == ModelState.Stopped, "the exit was noticed");
        Assert.Contains("exited on its own (exit code 137)", fleet["m"].LastError, StringComparison.Ordinal);
        Assert.Contains("fake output of m-1", fleet["m"].LastError, StringComparison.Ordinal);
        Assert.Contains("exited", fleet.EventsOf("m"));

        await fleet["m"].EnsureAsync(Token);
        Assert.Equal(2, Runtime.Starts);
        Assert.Equal("m-2", fleet["m"].Instance);
    }

    [Fact]
    public async Task A_verified_ensure_replaces_a_server_that_refuses_connections_and_keeps_one_that_answers()
    {
        var fleet = Fleet(models: "m");
        await fleet["m"].EnsureAsync(Token);

        await fleet["m"].EnsureAsync(verify: true, Timeout.InfiniteTimeSpan, Token);
        Assert.Equal(1, Runtime.Starts);

        Runtime.StopListening("m", new Uri($"http://127.0.0.1:{Runtimes.ServerArguments.FreeLoopbackPort()}/"));
        var endpoint = await fleet["m"].EnsureAsync(verify: true, Timeout.InfiniteTimeSpan, Token);

        Assert.Equal(2, Runtime.Starts);
        Assert.Equal(["m"], Runtime.Stopped);
        Assert.Equal(ReadyServer.Address, endpoint);
        Assert.Contains(fleet.Events.Recent("m"), e => e.Event == "stopping" && e.Detail!.Contains("refuses connections", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_server_left_running_by_a_previous_ModelManager_is_adopted_not_started_again()
    {
        var fleet = Fleet(3, "m", "n");
        Runtime.LeaveRunning("m");

        await Task.WhenAll(fleet["m"].AdoptAsync(Token), fleet["n"].AdoptAsync(Token));
        await Eventually.HoldsAsync(() => fleet["m"].State == ModelState.Ready, "the adopted server is ready");

        Assert.Equal(ModelState.Stopped, fleet["n"].State);
        Assert.Equal("left-m", fleet["m"].Instance);
        Assert.Null(fleet["m"].LastColdStart);
        await fleet["m"].EnsureAsync(Token);
        Assert.Equal(0, Runtime.Starts);
        Assert.Equal(["adopted", "ready"], fleet.EventsOf("m"));
    }

    [Fact]
    public async Task A_start_adopts_a_running_server_it_finds_instead_of_starting_a_second()
    {
        var fleet = Fleet(models: "m");
        Runtime.LeaveRunning("m");

        await fleet["m"].EnsureAsync(Token);

        Assert.Equal(0, Runtime.Starts);
        Assert.Equal("left-m", fleet["m"].Instance);
    }

    [Fact]
    public async Task Stopping_a_model_while_it_loads_cancels_the_start_without_backoff()
    {
        var fleet = Fleet(models: "m");
        Runtime.StartGate = new TaskCompletionSource();
        var ensure = fleet["m"].EnsureAsync(Token);
        await Eventually.HoldsAsync(() => Runtime.Starts == 1, "the start began");

        Assert.True(await fleet["m"].StopAsync("asked to"));

        var cancelled = await Assert.ThrowsAsync<ModelUnavailableException>(() => ensure);
        Assert.Equal("model_stopped", cancelled.Code);
        Assert.Equal(ModelState.Stopped, fleet["m"].State);

        Runtime.StartGate = new TaskCompletionSource();
        Runtime.StartGate.SetResult();
        await fleet["m"].EnsureAsync(Token);
        Assert.Equal(ModelState.Ready, fleet["m"].State);
    }

    [Fact]
    public async Task Cold_starts_state_transitions_and_loaded_models_are_measured()
    {
        var measurements = new List<(string Instrument, double Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ModelManagerMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, Meters))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Record(instrument.Name, value));
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Record(instrument.Name, value));
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => Record(instrument.Name, value));
        listener.Start();

        var fleet = Fleet(models: "m");
        await fleet["m"].EnsureAsync(Token);
        await fleet["m"].StopAsync("test");

        lock (measurements)
        {
            Assert.Single(measurements, m => m.Instrument == "llmaspire.modelmanager.cold_start.duration");
            Assert.Equal(4, measurements.Count(m => m.Instrument == "llmaspire.modelmanager.state.transitions"));
            Assert.Equal([1.0, -1.0], measurements.Where(m => m.Instrument == "llmaspire.modelmanager.models.loaded").Select(m => m.Value));
        }

        void Record(string instrument, double value)
        {
            lock (measurements)
            {
                measurements.Add((instrument, value));
            }
        }
    }
}
