using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Lifecycle;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LlmAspire.ModelManager.Tests;

/// <summary>Lifecycle rules in virtual time: single-flight starts, idle reaping, in-flight protection, LRU eviction, backoff.</summary>
public sealed class LifecycleTests : IAsyncLifetime
{
    private readonly FakeTimeProvider time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private WebApplication readyServer = null!;
    private FakeRuntime runtime = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        readyServer = builder.Build();
        readyServer.Run(context => context.Response.WriteAsync("{}"));
        await readyServer.StartAsync(Token);
        runtime = new FakeRuntime(new Uri(readyServer.Urls.First()));
    }

    public async ValueTask DisposeAsync() => await readyServer.DisposeAsync();

    private (ModelFleet Fleet, ActivityTracker Activity, IdleReaper Reaper) Fleet(int maxLoaded = 3, params string[] models)
    {
        var options = Options.Create(new ModelManagerOptions
        {
            ApiToken = "t",
            MaxLoadedModels = maxLoaded,
            FailureBackoff = TimeSpan.FromSeconds(10),
            MaxFailureBackoff = TimeSpan.FromSeconds(60),
            ReplicaGracePeriod = TimeSpan.FromSeconds(30),
            Models = models.ToDictionary(id => id, _ => new CatalogModelOptions { Command = "unused", IdleTimeout = TimeSpan.FromMinutes(5) }),
        });
        var activity = new ActivityTracker(options, time);
        var fleet = new ModelFleet(options, runtime, new ReadinessProbe(), activity, time, NullLogger<ManagedModel>.Instance);
        return (fleet, activity, new IdleReaper(fleet, activity, options, time));
    }

    [Fact]
    public async Task A_hundred_concurrent_ensures_start_the_server_once()
    {
        var (fleet, _, _) = Fleet(models: "m");
        runtime.StartGate = new TaskCompletionSource();

        var callers = Enumerable.Range(0, 100).Select(_ => Task.Run(() => fleet.Models["m"].EnsureAsync(Token), Token)).ToArray();
        while (fleet.Models["m"].State != ModelState.Starting)
        {
            await Task.Delay(5, Token);
        }

        runtime.StartGate.SetResult();
        var endpoints = await Task.WhenAll(callers);

        Assert.Equal(1, runtime.Starts);
        Assert.Single(endpoints.Distinct());
        Assert.Equal(ModelState.Ready, fleet.Models["m"].State);
    }

    [Fact]
    public async Task An_idle_model_is_stopped_after_its_idle_timeout_and_not_before()
    {
        var (fleet, activity, reaper) = Fleet(models: "m");
        activity.Touch("m");
        await fleet.Models["m"].EnsureAsync(Token);

        time.Advance(TimeSpan.FromMinutes(4));
        await reaper.ReapAsync();
        Assert.Equal(ModelState.Ready, fleet.Models["m"].State);

        time.Advance(TimeSpan.FromMinutes(1));
        await reaper.ReapAsync();
        Assert.Equal(ModelState.Stopped, fleet.Models["m"].State);
        Assert.Equal(["m"], runtime.Stopped);
    }

    [Fact]
    public async Task A_model_with_requests_in_flight_is_never_stopped_and_its_idle_time_starts_when_they_end()
    {
        var (fleet, activity, reaper) = Fleet(models: "m");
        await fleet.Models["m"].EnsureAsync(Token);

        for (var report = 0; report < 60; report++)
        {
            // A twenty-minute stream: the gateway keeps reporting it in flight, every 20 seconds.
            activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["m"] = new(1, 0) });
            time.Advance(TimeSpan.FromSeconds(20));
            await reaper.ReapAsync();
            Assert.Equal(ModelState.Ready, fleet.Models["m"].State);
        }

        // The stream ended 20 s ago; from then on the replica reports the model idle.
        for (var elapsed = 20; elapsed < 300; elapsed += 20)
        {
            activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["m"] = new(0, elapsed) });
            await reaper.ReapAsync();
            Assert.Equal(ModelState.Ready, fleet.Models["m"].State);
            time.Advance(TimeSpan.FromSeconds(20));
        }

        activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["m"] = new(0, 300) });
        await reaper.ReapAsync();
        Assert.Equal(ModelState.Stopped, fleet.Models["m"].State);
    }

    [Fact]
    public async Task A_replica_that_stops_reporting_is_forgotten_after_the_grace_period()
    {
        var (fleet, activity, reaper) = Fleet(models: "m");
        await fleet.Models["m"].EnsureAsync(Token);
        activity.Report("crashed-gateway", new Dictionary<string, ModelActivity> { ["m"] = new(3, 0) });

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(3, activity.InFlight("m"));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, activity.InFlight("m"));

        time.Advance(TimeSpan.FromMinutes(5));
        await reaper.ReapAsync();
        Assert.Equal(ModelState.Stopped, fleet.Models["m"].State);
    }

    [Fact]
    public async Task Loading_past_the_budget_evicts_the_least_recently_used_idle_model()
    {
        var (fleet, activity, _) = Fleet(maxLoaded: 2, "a", "b", "c");
        activity.Touch("a");
        await fleet.Models["a"].EnsureAsync(Token);
        time.Advance(TimeSpan.FromSeconds(10));
        activity.Touch("b");
        await fleet.Models["b"].EnsureAsync(Token);
        time.Advance(TimeSpan.FromSeconds(10));

        activity.Touch("c");
        await fleet.Models["c"].EnsureAsync(Token);

        Assert.Equal(["a"], runtime.Stopped);
        Assert.Equal(ModelState.Stopped, fleet.Models["a"].State);
        Assert.Equal(ModelState.Ready, fleet.Models["b"].State);
        Assert.Equal(ModelState.Ready, fleet.Models["c"].State);
    }

    [Fact]
    public async Task When_every_loaded_model_is_busy_a_new_one_is_refused_not_queued_behind_them()
    {
        var (fleet, activity, _) = Fleet(maxLoaded: 1, "a", "b");
        await fleet.Models["a"].EnsureAsync(Token);
        activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["a"] = new(2, 0) });

        var refused = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet.Models["b"].EnsureAsync(Token));

        Assert.Contains("busy", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ModelState.Ready, fleet.Models["a"].State);
        Assert.Empty(runtime.Stopped);
    }

    [Fact]
    public async Task Repeated_failures_back_off_exponentially()
    {
        var (fleet, _, _) = Fleet(models: "m");
        runtime.StartFailure = new InvalidOperationException("no GPU left");

        var first = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet.Models["m"].EnsureAsync(Token));
        Assert.Equal(ModelState.Failed, fleet.Models["m"].State);
        Assert.Contains("no GPU left", fleet.Models["m"].LastError, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(10), first.RetryAfter);

        var backingOff = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet.Models["m"].EnsureAsync(Token));
        Assert.Equal(1, runtime.Starts);
        Assert.Contains("backing off", backingOff.Message, StringComparison.Ordinal);

        time.Advance(TimeSpan.FromSeconds(10));
        var second = await Assert.ThrowsAsync<ModelUnavailableException>(() => fleet.Models["m"].EnsureAsync(Token));
        Assert.Equal(2, runtime.Starts);
        Assert.Equal(TimeSpan.FromSeconds(20), second.RetryAfter);

        runtime.StartFailure = null;
        time.Advance(TimeSpan.FromSeconds(20));
        await fleet.Models["m"].EnsureAsync(Token);
        Assert.Equal(ModelState.Ready, fleet.Models["m"].State);
        Assert.Null(fleet.Models["m"].LastError);
    }
}
