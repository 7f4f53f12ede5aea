using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace LlmAspire.ModelManager.Tests;

/// <summary>The service over real HTTP, starting the simulator as a local process.</summary>
public sealed class ProcessRuntimeTests : IAsyncLifetime
{
    private const string Token = "test-token";
    private WebApplication app = null!;
    private HttpClient client = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var simulator = Path.Combine(AppContext.BaseDirectory, "VllmSimulator.dll");
        app = ModelManagerApplication.Create(
        [
            "--urls", "http://127.0.0.1:0",
            "--Logging:LogLevel:Default", "Warning",
            "--ModelManager:ApiToken", Token,
            "--ModelManager:IdleCheckInterval", "00:00:00.100",
            .. Model("sim", simulator, "00:00:01", "00:01:00"),
            .. Model("slow", simulator, "00:10:00", "00:00:02", "--startup-delay-ms", "60000"),
        ]);
        await app.StartAsync(Cancellation);
        client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    public async ValueTask DisposeAsync()
    {
        client.Dispose();
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }

    [Fact]
    public async Task First_ensure_starts_the_server_and_it_stops_after_its_idle_timeout()
    {
        var ensured = await EnsureAsync("sim");
        var endpoint = new Uri((string)ensured["endpoint"]!);
        Assert.Equal("Ready", (string?)ensured["state"]);
        Assert.True((double)ensured["lastColdStartSeconds"]! > 0);

        using var direct = new HttpClient();
        using var models = await direct.GetAsync(new Uri(endpoint, "/v1/models"), Cancellation);
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);

        await WaitUntilAsync(async () => (string?)(await GetAsync("sim"))["state"] == "Stopped");
        await Assert.ThrowsAsync<HttpRequestException>(() => direct.GetAsync(new Uri(endpoint, "/health"), Cancellation));
    }

    [Fact]
    public async Task Fifty_concurrent_ensures_start_one_server()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => EnsureAsync("sim")));

        Assert.Single(answers.Select(answer => (string?)answer["endpoint"]).Distinct());
        Assert.All(answers, answer => Assert.Equal("Ready", (string?)answer["state"]));
    }

    [Fact]
    public async Task A_server_that_does_not_load_in_time_fails_with_its_output()
    {
        using var response = await client.PostAsync("/api/models/slow/ensure", null, Cancellation);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        var model = await GetAsync("slow");
        Assert.Equal("Failed", (string?)model["state"]);
        Assert.Contains("StartupTimeout", (string?)model["lastError"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_change_feed_answers_at_the_next_state_change()
    {
        var version = (long)JsonNode.Parse(await client.GetStringAsync("/api/models", Cancellation))!["version"]!;
        var changes = client.GetStringAsync($"/api/models/changes?since={version}", Cancellation);
        await Task.Delay(200, Cancellation);
        Assert.False(changes.IsCompleted);

        await EnsureAsync("sim");
        var changed = JsonNode.Parse(await changes)!;

        Assert.True((long)changed["version"]! > version);
        Assert.Contains(changed["models"]!.AsArray(), model => (string?)model!["id"] == "sim" && (string?)model["state"] is "Starting" or "Ready");
    }

    [Fact]
    public async Task Unknown_models_and_missing_tokens_are_refused()
    {
        using var unknown = await client.PostAsync("/api/models/not-in-catalog/ensure", null, Cancellation);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        using var anonymous = new HttpClient { BaseAddress = client.BaseAddress };
        using var refused = await anonymous.GetAsync("/api/models", Cancellation);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private static string[] Model(string id, string simulator, string idleTimeout, string startupTimeout, params string[] extraArgs)
    {
        string[] args = [simulator, "--urls", "http://127.0.0.1:{port}", "--model", "{model}", .. extraArgs];
        return
        [
            $"--ModelManager:Models:{id}:Command", "dotnet",
            $"--ModelManager:Models:{id}:IdleTimeout", idleTimeout,
            $"--ModelManager:Models:{id}:StartupTimeout", startupTimeout,
            $"--ModelManager:Models:{id}:StopTimeout", "00:00:02",
            .. args.SelectMany((arg, index) => new[] { $"--ModelManager:Models:{id}:Args:{index}", arg }),
        ];
    }

    private async Task<JsonNode> EnsureAsync(string model)
    {
        using var response = await client.PostAsync($"/api/models/{model}/ensure", null, Cancellation);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;
    }

    private async Task<JsonNode> GetAsync(string model) =>
        JsonNode.Parse(await client.GetStringAsync($"/api/models/{model}", Cancellation))!;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not become true in time.");
            await Task.Delay(50, Cancellation);
        }
    }
}
