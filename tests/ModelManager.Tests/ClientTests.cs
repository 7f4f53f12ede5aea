using System.Net;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.ModelManager.Tests;

/// <summary>ModelManager.Client's typed client against a real ModelManager over HTTP, with a fake runtime behind it.</summary>
public sealed class ClientTests : IAsyncLifetime
{
    private ReadyServer readyServer = null!;
    private FakeRuntime runtime = null!;
    private ModelManagerHost host = null!;
    private HttpClient http = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private ModelManagerClient Client => new(http, ModelManagerHost.Token);

    public async ValueTask InitializeAsync()
    {
        readyServer = await ReadyServer.StartAsync();
        runtime = new FakeRuntime(readyServer.Address);
        host = await ModelManagerHost.StartAsync(
            [
                TestCatalog.Setting("ChangeFeedHeartbeat", "00:00:00.200"),
                new("ModelManager:Models:alpha:Command", "unused"),
                new("ModelManager:Models:alpha:MaxConcurrency", "8"),
                new("ModelManager:Models:org/beta:Command", "unused"),
            ],
            services => services.AddSingleton<IModelServerRuntime>(runtime));
        http = new HttpClient { BaseAddress = host.Client.BaseAddress };
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await host.DisposeAsync();
        await readyServer.DisposeAsync();
    }

    [Fact]
    public async Task Models_are_listed_ensured_read_and_stopped()
    {
        var fleet = await Client.GetModelsAsync(Cancellation);
        Assert.Equal(["alpha", "org/beta"], fleet.Models.Select(model => model.Id));
        Assert.All(fleet.Models, model => Assert.Equal(ModelStateNames.Stopped, model.State));

        var ensured = await Client.EnsureAsync("org/beta", cancellationToken: Cancellation);
        Assert.Equal(ModelStateNames.Ready, ensured.State);
        Assert.Equal(readyServer.Address, ensured.Endpoint);
        Assert.Equal(ModelStateNames.Ready, (await Client.GetModelAsync("org/beta", Cancellation)).State);
        Assert.Equal(1, (await Client.GetModelsAsync(Cancellation)).LoadedModels);

        var stopped = await Client.StopAsync("org/beta", cancellationToken: Cancellation);
        Assert.Equal(ModelStateNames.Stopped, stopped.State);
        Assert.Null(stopped.Endpoint);
        Assert.Equal(
            [LifecycleEventKind.Starting, LifecycleEventKind.Ready, LifecycleEventKind.Stopping, LifecycleEventKind.Stopped],
            (await Client.GetEventsAsync("org/beta", cancellationToken: Cancellation)).Select(e => e.Event));
    }

    [Fact]
    public async Task Activity_reports_show_in_the_model()
    {
        await Client.ReportActivityAsync(
            new ActivityReport("gateway-1", new Dictionary<string, ModelActivity> { ["alpha"] = new(2, 0, 3) }), Cancellation);

        var alpha = await Client.GetModelAsync("alpha", Cancellation);
        Assert.Equal(2, alpha.InFlight);
        Assert.Equal(3, alpha.Queued);
        Assert.NotNull(alpha.LastActivity);
    }

    [Fact]
    public async Task The_long_poll_and_the_stream_follow_state_changes()
    {
        var before = await Client.WaitForChangeAsync(cancellationToken: Cancellation);
        var poll = Client.WaitForChangeAsync(before.Version, TimeSpan.FromSeconds(30), Cancellation);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        await using var stream = Client.WatchAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal(before.Version, stream.Current.Version);

        await Client.EnsureAsync("alpha", cancellationToken: Cancellation);

        var changed = await poll;
        Assert.True(changed.Version > before.Version);
        FleetSnapshot? ready = null;
        while (ready is null && await stream.MoveNextAsync())
        {
            ready = stream.Current.Models.Single(model => model.Id == "alpha").State == ModelStateNames.Ready ? stream.Current : null;
        }

        Assert.NotNull(ready);
        Assert.Equal(8, ready.Models.Single(model => model.Id == "alpha").MaxConcurrency);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task Errors_carry_the_api_error_and_retry_after()
    {
        var notFound = await Assert.ThrowsAsync<ModelManagerException>(() => Client.GetModelAsync("no-such-model", Cancellation));
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Equal("model_not_found", notFound.Error?.Code);

        var unauthorized = await Assert.ThrowsAsync<ModelManagerException>(() => new ModelManagerClient(http, "wrong-token").GetModelsAsync(Cancellation));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal("invalid_token", unauthorized.Error?.Code);

        runtime.StartGate = new TaskCompletionSource();
        var loading = await Assert.ThrowsAsync<ModelManagerException>(() => Client.EnsureAsync("alpha", TimeSpan.FromSeconds(0.2), cancellationToken: Cancellation));
        Assert.Equal(HttpStatusCode.GatewayTimeout, loading.StatusCode);
        Assert.Equal("model_loading", loading.Error?.Code);
        Assert.Equal("server_error", loading.Error?.Type);
        Assert.Equal(TimeSpan.FromSeconds(1), loading.RetryAfter);
        runtime.StartGate.SetResult();
    }
}
