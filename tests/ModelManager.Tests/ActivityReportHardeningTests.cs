using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// Activity reports with implausible numbers are refused with 400, and no report, however large its numbers, can make
/// a background loop fail and take the service (and, with <c>StopModelsOnShutdown</c>, its models) down.
/// </summary>
public sealed class ActivityReportHardeningTests : IAsyncLifetime
{
    private ReadyServer readyServer = null!;
    private FakeRuntime runtime = null!;
    private ModelManagerHost host = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        readyServer = await ReadyServer.StartAsync();
        runtime = new FakeRuntime(readyServer.Address);
        host = await ModelManagerHost.StartAsync(
            [new("ModelManager:Models:alpha:Command", "unused"), new("ModelManager:Models:alpha:IdleTimeout", "00:00:01")],
            services => services.AddSingleton<IModelServerRuntime>(runtime));
    }

    public async ValueTask DisposeAsync()
    {
        await host.DisposeAsync();
        await readyServer.DisposeAsync();
    }

    [Theory]
    [InlineData(int.MaxValue, 0.0, 0)]
    [InlineData(1_000_001, 0.0, 0)]
    [InlineData(0, 1e308, 0)]
    [InlineData(0, 1e12, 0)]
    [InlineData(0, 0.0, int.MaxValue)]
    public async Task Implausible_numbers_are_400_and_the_service_and_its_model_keep_running(int inFlight, double idleSeconds, int queued)
    {
        await host.EnsureAsync("alpha");

        foreach (var replica in new[] { "gateway-1", "gateway-2" })
        {
            using var response = await host.Client.PostAsJsonAsync(
                "/api/activity", new { replica, models = new Dictionary<string, object> { ["alpha"] = new { inFlight, idleSeconds, queued } } }, Cancellation);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["error"]!;
            Assert.Equal("invalid_request", (string?)error["code"]);
        }

        // Several idle checks later the service still answers and the model was neither reaped nor stopped with it.
        await host.ReportAsync("gateway-1", "alpha", 1, 0);
        await Task.Delay(TimeSpan.FromMilliseconds(500), Cancellation);
        var fleet = JsonNode.Parse(await host.Client.GetStringAsync("/api/models", Cancellation))!;
        Assert.Equal("ready", (string?)fleet["models"]![0]!["state"]);
        Assert.Equal(1, (int)fleet["models"]![0]!["inFlight"]!);
        Assert.Empty(runtime.Stopped);
    }

    [Fact]
    public async Task The_largest_accepted_reports_of_many_replicas_add_up_without_overflow()
    {
        await host.EnsureAsync("alpha");
        for (var replica = 0; replica < 3; replica++)
        {
            await host.ReportAsync($"gateway-{replica}", "alpha", ActivityTracker.MaxRequests, ActivityTracker.MaxIdleSeconds, ActivityTracker.MaxRequests);
        }

        var model = await host.GetAsync("alpha");
        Assert.Equal(3 * ActivityTracker.MaxRequests, (int)model["inFlight"]!);
        Assert.Equal(3 * ActivityTracker.MaxRequests, (int)model["queued"]!);
    }

    [Fact]
    public void Reports_that_bypass_the_api_check_are_clamped_instead_of_overflowing()
    {
        var options = Options.Create(new ModelManagerOptions
        {
            ApiToken = "t",
            Models = new() { ["m"] = new CatalogModelOptions { Command = "unused" } },
        });
        var tracker = new ActivityTracker(options, new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(50)));

        tracker.Report("a", new Dictionary<string, ModelActivity> { ["m"] = new(int.MaxValue, double.MaxValue, int.MaxValue) });
        tracker.Report("b", new Dictionary<string, ModelActivity> { ["m"] = new(int.MaxValue, double.MaxValue, int.MaxValue) });

        Assert.Equal(2 * ActivityTracker.MaxRequests, tracker.InFlight("m"));
        Assert.Equal(2 * ActivityTracker.MaxRequests, tracker.Queued("m"));
        Assert.False(tracker.IsIdle("m", TimeSpan.FromMinutes(1)));
    }
}
