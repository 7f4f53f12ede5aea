using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmAspire.ModelManager.Tests.Infrastructure;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// The change feed follows activity as well as state, end to end: a real gateway reports what it has in flight and
/// queued, ModelManager runs the simulator as a process, and a consumer reads <c>/api/changes/stream</c>.
/// </summary>
public sealed class ChangeFeedActivityTests : IAsyncLifetime
{
    private const string Model = "m";
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(10);

    private readonly DirectoryInfo stateDirectory = Directory.CreateTempSubdirectory("llmaspire-mm-feed-");
    private ModelManagerHost host = null!;
    private WebApplication gateway = null!;
    private HttpClient client = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // One request at a time, and a load long enough to be seen.
        host = await ModelManagerHost.StartAsync(
        [
            TestCatalog.Setting("Process:StateDirectory", stateDirectory.FullName),
            new($"ModelManager:Models:{Model}:MaxConcurrency", "1"),
            .. TestCatalog.SimulatorProcess(Model, IdleTimeout.ToString(), "00:01:00", "--startup-delay-ms", "1500", "--output-tokens", "4"),
        ]);
        // The simulator's time-to-first-token header is passed on to it (the gateway forwards only the headers it is told to).
        gateway = await host.StartGatewayAsync(
            "--Gateway:ModelManager:ActivityReportInterval", "00:00:00.200", "--Gateway:Upstream:ForwardedRequestHeaders:0", "x-sim-ttft-ms");
        client = new HttpClient { BaseAddress = new Uri(gateway.Urls.First()), Timeout = TimeSpan.FromMinutes(2) };
    }

    public async ValueTask DisposeAsync()
    {
        client.Dispose();
        await gateway.StopAsync(CancellationToken.None);
        await gateway.DisposeAsync();
        await host.DisposeAsync();
        await LeftoverServers.EndAndDeleteAsync(stateDirectory);
    }

    [Fact]
    public async Task A_request_shows_queued_while_its_model_loads_in_flight_while_it_runs_then_the_idle_countdown_starts()
    {
        await using var stream = await ChangeStream.OpenAsync(host.Client);
        var first = ChangeStream.Model((await stream.ReadEventAsync()).Data, Model);
        Assert.Equal(("stopped", 0, 0), State(first));
        Assert.Null(first["idleStopAt"]);

        // The simulator takes 1.5 s to load, then 2 s to the first token.
        var request = CompleteAsync(ttftMs: 2000);
        await stream.WaitForAsync(Model, view => (int)view["queued"]! == 1 && (int)view["inFlight"]! == 0, "the request queued while the model loads");
        var running = await stream.WaitForAsync(Model, view => (int)view["inFlight"]! == 1, "the request in flight");
        Assert.Equal(("ready", 1, 0), State(running));
        Assert.Null(running["idleStopAt"]);

        Assert.Equal(HttpStatusCode.OK, (await request).StatusCode);
        var idle = await stream.WaitForAsync(Model, view => (int)view["inFlight"]! == 0, "nothing in flight once the request ended");
        Assert.Equal(("ready", 0, 0), State(idle));
        var lastActivity = (DateTimeOffset)idle["lastActivity"]!;
        Assert.True(lastActivity > (DateTimeOffset)running["lastActivity"]!, "the end of the request is the model's last activity");
        Assert.Equal(lastActivity + IdleTimeout, (DateTimeOffset)idle["idleStopAt"]!);
    }

    [Fact]
    public async Task A_request_waiting_for_the_models_one_slot_shows_as_queued()
    {
        await host.EnsureAsync(Model);
        await using var stream = await ChangeStream.OpenAsync(host.Client);

        var running = CompleteAsync(ttftMs: 3000);
        await stream.WaitForAsync(Model, view => (int)view["inFlight"]! == 1, "the first request in flight");
        var waiting = CompleteAsync(ttftMs: 0);
        var both = await stream.WaitForAsync(Model, view => (int)view["queued"]! == 1, "the second request queued behind it");
        Assert.Equal(("ready", 1, 1), State(both));
        Assert.Null(both["idleStopAt"]);

        Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await waiting).StatusCode);
        var idle = await stream.WaitForAsync(Model, view => (int)view["inFlight"]! == 0 && (int)view["queued"]! == 0, "both requests done");
        Assert.NotNull(idle["idleStopAt"]);
    }

    private static (string? State, int InFlight, int Queued) State(JsonNode view) =>
        ((string?)view["state"], (int)view["inFlight"]!, (int)view["queued"]!);

    private async Task<HttpResponseMessage> CompleteAsync(int ttftMs)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{Model}}","messages":[{"role":"user","content":"Hello"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-sim-ttft-ms", ttftMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var response = await client.SendAsync(request, Cancellation);
        await response.Content.LoadIntoBufferAsync(Cancellation);
        return response;
    }
}
