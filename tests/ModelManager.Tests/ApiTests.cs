using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.ModelManager.Tests;

/// <summary>The control API's contract (docs/modelmanager.md) over real HTTP, with a fake runtime behind it.</summary>
public sealed class ApiTests : IAsyncLifetime
{
    private ReadyServer readyServer = null!;
    private FakeRuntime runtime = null!;
    private ModelManagerHost host = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private HttpClient Client => host.Client;

    public async ValueTask InitializeAsync()
    {
        readyServer = await ReadyServer.StartAsync();
        runtime = new FakeRuntime(readyServer.Address);
        host = await ModelManagerHost.StartAsync(
            [
                TestCatalog.Setting("MaxLoadedModels", "2"),
                TestCatalog.Setting("FailureBackoff", "00:01:00"),
                TestCatalog.Setting("MaxFailureBackoff", "00:10:00"),
                TestCatalog.Setting("ChangeFeedHeartbeat", "00:00:00.200"),
                new("ModelManager:Models:alpha:Command", "unused"),
                new("ModelManager:Models:alpha:MaxConcurrency", "8"),
                new("ModelManager:Models:beta:Command", "unused"),
                new("ModelManager:Models:org/gamma:Command", "unused"),
            ],
            services => services.AddSingleton<IModelServerRuntime>(runtime));
    }

    public async ValueTask DisposeAsync()
    {
        await host.DisposeAsync();
        await readyServer.DisposeAsync();
    }

    public static TheoryData<string, string> EveryEndpoint => new()
    {
        { "GET", "/api/models" },
        { "GET", "/api/models/alpha" },
        { "POST", "/api/models/alpha/ensure" },
        { "POST", "/api/models/alpha/stop" },
        { "POST", "/api/activity" },
        { "GET", "/api/changes" },
        { "GET", "/api/changes/stream" },
        { "GET", "/api/events" },
        { "GET", "/api/no-such-thing" },
    };

    [Theory]
    [MemberData(nameof(EveryEndpoint))]
    public async Task Every_endpoint_refuses_a_missing_or_wrong_token(string method, string path)
    {
        foreach (var authorization in new AuthenticationHeaderValue?[] { null, new("Bearer", "wrong-token"), new("Basic", ModelManagerHost.Token) })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            request.Headers.Authorization = authorization;
            using var anonymous = new HttpClient { BaseAddress = Client.BaseAddress };
            using var response = await anonymous.SendAsync(request, Cancellation);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["error"]!;
            Assert.Equal("invalid_token", (string?)error["code"]);
            Assert.Equal("invalid_request_error", (string?)error["type"]);
            Assert.False(string.IsNullOrEmpty((string?)error["message"]));
        }

        Assert.Equal(0, runtime.Starts);
    }

    [Fact]
    public async Task The_list_shows_every_catalog_model_with_its_state()
    {
        var fleet = JsonNode.Parse(await Client.GetStringAsync("/api/models", Cancellation))!;

        Assert.Equal(2, (int)fleet["maxLoadedModels"]!);
        Assert.Equal(0, (int)fleet["loadedModels"]!);
        var models = fleet["models"]!.AsArray();
        Assert.Equal(["alpha", "beta", "org/gamma"], models.Select(m => (string)m!["id"]!));
        var alpha = models[0]!;
        Assert.Equal("stopped", (string?)alpha["state"]);
        Assert.Equal("process", (string?)alpha["runtime"]);
        Assert.Equal(8, (int)alpha["maxConcurrency"]!);
        Assert.Equal(900, (double)alpha["idleTimeoutSeconds"]!);
        Assert.Null(alpha["endpoint"]);
        Assert.Equal(0, (int)alpha["inFlight"]!);
    }

    [Fact]
    public async Task Ensure_returns_the_endpoint_and_stop_stops_the_model()
    {
        var ensured = await host.EnsureAsync("alpha");
        Assert.Equal("ready", (string?)ensured["state"]);
        Assert.Equal(readyServer.Address, new Uri((string)ensured["endpoint"]!));
        Assert.NotNull(ensured["loadedSince"]);
        Assert.NotNull(ensured["lastActivity"]);

        using var stop = await Client.PostAsync("/api/models/alpha/stop", null, Cancellation);
        Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        var stopped = JsonNode.Parse(await stop.Content.ReadAsStringAsync(Cancellation))!;
        Assert.Equal("stopped", (string?)stopped["state"]);
        Assert.Null(stopped["endpoint"]);
        Assert.Equal(["alpha"], runtime.Stopped);
    }

    [Fact]
    public async Task A_verified_ensure_starts_again_a_server_that_refuses_connections()
    {
        await host.EnsureAsync("alpha");
        runtime.StopListening("alpha", new Uri($"http://127.0.0.1:{Runtimes.ServerArguments.FreeLoopbackPort()}/"));

        using var plain = await Client.PostAsync("/api/models/alpha/ensure", null, Cancellation);
        Assert.Equal(1, runtime.Starts);

        using var verified = await Client.PostAsync("/api/models/alpha/ensure?verify=true", null, Cancellation);
        Assert.Equal(HttpStatusCode.OK, verified.StatusCode);
        Assert.Equal(2, runtime.Starts);
        Assert.Equal(readyServer.Address, new Uri((string)JsonNode.Parse(await verified.Content.ReadAsStringAsync(Cancellation))!["endpoint"]!));
    }

    [Fact]
    public async Task A_model_with_requests_in_flight_is_stopped_only_when_forced()
    {
        await host.EnsureAsync("alpha");
        await host.ReportAsync("gateway-1", "alpha", 2, 0);

        using var refused = await Client.PostAsync("/api/models/alpha/stop", null, Cancellation);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("model_busy", (string?)JsonNode.Parse(await refused.Content.ReadAsStringAsync(Cancellation))!["error"]!["code"]);
        Assert.Equal("ready", await host.StateAsync("alpha"));

        using var forced = await Client.PostAsync("/api/models/alpha/stop?force=true", null, Cancellation);
        Assert.Equal(HttpStatusCode.OK, forced.StatusCode);
        Assert.Equal("stopped", await host.StateAsync("alpha"));
    }

    [Fact]
    public async Task Only_catalog_ids_are_accepted()
    {
        foreach (var (method, path) in new[] { ("GET", "/api/models/llama"), ("POST", "/api/models/llama/ensure"), ("POST", "/api/models/llama/stop") })
        {
            using var response = await Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Cancellation);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("model_not_found", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["error"]!["code"]);
        }

        Assert.Equal(0, runtime.Starts);
    }

    [Fact]
    public async Task A_model_id_with_a_slash_is_reached_url_encoded()
    {
        var ensured = await host.EnsureAsync("org/gamma");

        Assert.Equal("org/gamma", (string?)ensured["id"]);
        Assert.Equal(["org/gamma"], runtime.Started);
    }

    [Fact]
    public async Task Unknown_paths_get_a_json_404()
    {
        using var response = await Client.GetAsync("/api/models/alpha/nothing-here", Cancellation);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["error"]!["code"]);
    }

    [Fact]
    public async Task An_ensure_that_outwaits_its_timeout_gets_504_and_the_start_goes_on()
    {
        runtime.StartGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        using var response = await Client.PostAsync("/api/models/alpha/ensure?timeoutSeconds=0.3", null, Cancellation);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal("model_loading", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["error"]!["code"]);
        Assert.Equal("starting", await host.StateAsync("alpha"));

        runtime.StartGate.SetResult();
        await host.WaitForStateAsync("alpha", "ready");
    }

    [Fact]
    public async Task A_failed_model_answers_503_with_retry_after_while_it_backs_off()
    {
        runtime.StartFailure = new ModelServerException("image not found");

        var failed = await host.EnsureAsync("alpha", HttpStatusCode.ServiceUnavailable);
        Assert.Contains("image not found", (string?)failed["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal("server_error", (string?)failed["error"]!["type"]);

        using var backingOff = await Client.PostAsync("/api/models/alpha/ensure", null, Cancellation);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, backingOff.StatusCode);
        Assert.InRange(backingOff.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        Assert.Equal("model_backing_off", (string?)JsonNode.Parse(await backingOff.Content.ReadAsStringAsync(Cancellation))!["error"]!["code"]);
        Assert.Equal(1, runtime.Starts);

        var model = await host.GetAsync("alpha");
        Assert.Equal("failed", (string?)model["state"]);
        Assert.Contains("image not found", (string?)model["lastError"], StringComparison.Ordinal);
        Assert.NotNull(model["retryAt"]);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"models":{}}""")]
    [InlineData("""{"replica":"g","models":{"alpha":{"inFlight":-1,"idleSeconds":0}}}""")]
    [InlineData("""{"replica":"g","models":{"alpha":{"inFlight":"many","idleSeconds":0}}}""")]
    public async Task A_malformed_activity_report_gets_400(string body)
    {
        using var response = await Client.PostAsync("/api/activity", new StringContent(body, Encoding.UTF8, "application/json"), Cancellation);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["error"]!["code"]);
    }

    [Fact]
    public async Task Activity_reports_show_in_the_model_view()
    {
        await host.ReportAsync("gateway-1", "alpha", 3, 0);
        await host.ReportAsync("gateway-2", "alpha", 2, 0);

        Assert.Equal(5, (int)(await host.GetAsync("alpha"))["inFlight"]!);

        await host.ReportAsync("gateway-1", "alpha", 0, 1);
        Assert.Equal(2, (int)(await host.GetAsync("alpha"))["inFlight"]!);
    }

    [Fact]
    public async Task The_long_poll_answers_at_the_next_change()
    {
        var version = (long)JsonNode.Parse(await Client.GetStringAsync("/api/changes", Cancellation))!["version"]!;

        var unchanged = JsonNode.Parse(await Client.GetStringAsync($"/api/changes?since={version}&timeoutSeconds=0.2", Cancellation))!;
        Assert.Equal(version, (long)unchanged["version"]!);

        var waiting = Client.GetStringAsync($"/api/changes?since={version}&timeoutSeconds=60", Cancellation);
        await Task.Delay(100, Cancellation);
        Assert.False(waiting.IsCompleted);
        await host.EnsureAsync("beta");

        var changed = JsonNode.Parse(await waiting)!;
        Assert.True((long)changed["version"]! > version);
        Assert.Contains(changed["models"]!.AsArray(), m => (string?)m!["id"] == "beta" && (string?)m["state"] is "starting" or "ready");
    }

    [Fact]
    public async Task The_event_stream_sends_the_fleet_at_once_and_after_every_change()
    {
        await using var stream = await ChangeStream.OpenAsync(Client);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);

        var first = await stream.ReadEventAsync();
        Assert.Equal("models", first.Event);
        Assert.Equal("stopped", (string?)ChangeStream.Model(first.Data, "beta")["state"]);
        Assert.Equal(first.Id, (long)first.Data["version"]!);

        await host.EnsureAsync("beta");
        var states = new List<string?>();
        while (!states.Contains("ready"))
        {
            var next = await stream.ReadEventAsync();
            Assert.True(next.Id > first.Id);
            states.Add((string?)ChangeStream.Model(next.Data, "beta")["state"]);
        }
    }

    [Fact]
    public async Task Activity_reaches_the_event_stream_under_the_same_version_and_never_wakes_the_long_poll()
    {
        await host.EnsureAsync("alpha");
        await using var stream = await ChangeStream.OpenAsync(Client);
        var version = (await stream.ReadEventAsync()).Id;
        var poll = Client.GetStringAsync($"/api/changes?since={version}&timeoutSeconds=2", Cancellation);

        await host.ReportAsync("gateway-1", "alpha", inFlight: 2, idleSeconds: 0, queued: 3);
        var busy = await stream.ReadEventAsync();
        var alpha = ChangeStream.Model(busy.Data, "alpha");
        Assert.Equal(version, busy.Id);
        Assert.Equal(2, (int)alpha["inFlight"]!);
        Assert.Equal(3, (int)alpha["queued"]!);
        Assert.Null(alpha["idleStopAt"]);

        await host.ReportAsync("gateway-1", "alpha", inFlight: 0, idleSeconds: 0);
        alpha = await stream.WaitForAsync("alpha", view => (int)view["inFlight"]! == 0, "alpha with nothing in flight");
        Assert.Equal(0, (int)alpha["queued"]!);
        Assert.Equal((DateTimeOffset)alpha["lastActivity"]! + TimeSpan.FromSeconds((double)alpha["idleTimeoutSeconds"]!), (DateTimeOffset)alpha["idleStopAt"]!);

        // The long poll is for state: it sat out the activity and answers the version it was given.
        Assert.Equal(version, (long)JsonNode.Parse(await poll)!["version"]!);
    }

    [Fact]
    public async Task The_event_stream_sends_keep_alive_comments_while_nothing_changes()
    {
        await using var stream = await ChangeStream.OpenAsync(Client);
        await stream.ReadEventAsync();

        var comments = 0;
        while (comments < 2 && await stream.ReadLineAsync() is { } line)
        {
            Assert.True(line.Length == 0 || line == ": keep-alive", line);
            comments += line == ": keep-alive" ? 1 : 0;
        }

        Assert.Equal(2, comments);
    }

    [Fact]
    public async Task Lifecycle_events_are_listed_per_model()
    {
        await host.EnsureAsync("alpha");
        await Client.PostAsync("/api/models/alpha/stop", null, Cancellation);

        var events = JsonNode.Parse(await Client.GetStringAsync("/api/events?model=alpha", Cancellation))!["events"]!.AsArray();

        Assert.Equal(["starting", "ready", "stopping", "stopped"], events.Select(e => (string)e!["event"]!));
        var ready = events[1]!;
        Assert.Equal("alpha", (string?)ready["model"]);
        Assert.Equal("process", (string?)ready["runtime"]);
        Assert.Equal("alpha-1", (string?)ready["instance"]);
        Assert.NotNull(ready["durationMs"]);
        Assert.NotNull(ready["occurredAt"]);
    }
}
