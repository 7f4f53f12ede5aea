using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>The response cache against a real redis-server: hits, misses, bypasses, tenants, stampedes, replays, outages.</summary>
public sealed class ResponseCacheTests(StorageServers servers) : IAsyncLifetime
{
    private static readonly object Greedy = new { temperature = 0 };

    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;
    private GatewayServer gateway = null!;
    private string database = null!;
    private string keyA = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "12");
        database = await servers.Postgres.CreateDatabaseAsync();
        gateway = await StartGatewayAsync(servers.Redis.ConnectionString);
        (_, keyA) = await CreateKeyAsync(gateway, Tenant());
    }

    public async ValueTask DisposeAsync()
    {
        await gateway.DisposeAsync();
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task Deterministic_request_is_a_miss_then_a_hit_with_the_same_answer()
    {
        var prompt = Unique();
        var (first, firstBody) = await SendAsync(keyA, prompt);
        var (second, secondBody) = await SendAsync(keyA, prompt);

        Assert.Equal("miss", CacheHeader(first));
        Assert.Equal("hit", CacheHeader(second));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(firstBody, secondBody);
        Assert.Equal(1, simulator.State.RequestsCompleted);
    }

    [Fact]
    public async Task Sampling_request_bypasses_the_cache_unless_forced_and_the_bypass_header_skips_it()
    {
        var prompt = Unique();
        var sampling = new { temperature = 0.7 };
        Assert.Equal("bypass", CacheHeader((await SendAsync(keyA, prompt, sampling)).Response));
        Assert.Equal("bypass", CacheHeader((await SendAsync(keyA, prompt, sampling)).Response));

        Assert.Equal("miss", CacheHeader((await SendAsync(keyA, prompt, sampling, headers: [("x-llmaspire-cache", "force")])).Response));
        Assert.Equal("hit", CacheHeader((await SendAsync(keyA, prompt, sampling, headers: [("x-llmaspire-cache", "force")])).Response));

        Assert.Equal("miss", CacheHeader((await SendAsync(keyA, prompt)).Response));
        Assert.Equal("bypass", CacheHeader((await SendAsync(keyA, prompt, Greedy, headers: [("x-llmaspire-cache", "bypass")])).Response));
        Assert.Equal("hit", CacheHeader((await SendAsync(keyA, prompt)).Response));
        // Two sampled, one forced miss, one greedy miss, one bypassed.
        Assert.Equal(5, simulator.State.RequestsCompleted);
    }

    [Fact]
    public async Task A_fixed_seed_is_deterministic_and_fields_that_do_not_decide_the_answer_share_the_entry()
    {
        var prompt = Unique();
        Assert.Equal("miss", CacheHeader((await SendAsync(keyA, prompt, new { seed = 7, temperature = 0.9, user = "alice" })).Response));
        Assert.Equal("hit", CacheHeader((await SendAsync(keyA, prompt, new { temperature = 0.90, seed = 7, user = "bob" })).Response));
        Assert.Equal("miss", CacheHeader((await SendAsync(keyA, prompt, new { seed = 8, temperature = 0.9 })).Response));
    }

    [Fact]
    public async Task Tenant_b_never_sees_tenant_a_answer_unless_the_model_is_shared()
    {
        var (_, keyB) = await CreateKeyAsync(gateway, Tenant());
        var prompt = Unique();

        Assert.Equal("miss", CacheHeader((await SendAsync(keyA, prompt)).Response));
        Assert.Equal("hit", CacheHeader((await SendAsync(keyA, prompt)).Response));
        Assert.Equal("miss", CacheHeader((await SendAsync(keyB, prompt)).Response));
        Assert.Equal(2, simulator.State.RequestsCompleted);

        await using var shared = await StartGatewayAsync(servers.Redis.ConnectionString, ("Gateway:Cache:Models:m:Shared", "true"));
        var sharedPrompt = Unique();
        Assert.Equal("miss", CacheHeader((await SendAsync(keyA, sharedPrompt, via: shared)).Response));
        Assert.Equal("hit", CacheHeader((await SendAsync(keyB, sharedPrompt, via: shared)).Response));
    }

    [Fact]
    public async Task A_model_ttl_expires_its_entries()
    {
        await using var shortLived = await StartGatewayAsync(servers.Redis.ConnectionString, ("Gateway:Cache:Models:m:Ttl", "00:00:02"));
        var prompt = Unique();
        Assert.Equal("miss", CacheHeader((await SendAsync(keyA, prompt, via: shortLived)).Response));
        Assert.Equal("hit", CacheHeader((await SendAsync(keyA, prompt, via: shortLived)).Response));

        // Redis expires the entry after the model's TTL; the default TTL (an hour) would keep it.
        await AdmissionTests.WaitUntilAsync(() => CacheHeader(SendAsync(keyA, prompt, via: shortLived).GetAwaiter().GetResult().Response) == "miss");
    }

    [Fact]
    public async Task Hundred_concurrent_identical_misses_make_one_upstream_call()
    {
        var prompt = Unique();
        // The first answer takes a while, so all hundred requests arrive while it is being generated.
        var requests = Enumerable.Range(0, 100).Select(_ => SendAsync(keyA, prompt, Greedy, headers: [("x-sim-ttft-ms", "3000")])).ToList();
        var answers = await Task.WhenAll(requests);

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.Response.StatusCode));
        Assert.Single(answers.Select(answer => answer.Body).Distinct());
        Assert.Equal(1, answers.Count(answer => CacheHeader(answer.Response) == "miss"));
        Assert.Equal(99, answers.Count(answer => CacheHeader(answer.Response) == "hit"));
        Assert.Equal(1, simulator.State.RequestsCompleted);
    }

    [Fact]
    public async Task A_streamed_answer_is_replayed_as_a_stream_identical_in_content_and_serves_plain_requests_too()
    {
        var prompt = Unique();
        using var original = await gateway.Client.SendAsync(WithKey(Chat("m", stream: true, prompt: prompt, extra: Greedy), keyA), HttpCompletionOption.ResponseHeadersRead, Token);
        var originalEvents = await ReadEventsAsync(original, Token);
        using var replayed = await gateway.Client.SendAsync(WithKey(Chat("m", stream: true, prompt: prompt, extra: Greedy), keyA), HttpCompletionOption.ResponseHeadersRead, Token);
        var replayedEvents = await ReadEventsAsync(replayed, Token);
        var (plain, plainBody) = await SendAsync(keyA, prompt);

        Assert.Equal("miss", CacheHeader(original));
        Assert.Equal("hit", CacheHeader(replayed));
        Assert.Equal("text/event-stream", replayed.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Content(originalEvents), Content(replayedEvents));
        Assert.NotEmpty(Content(replayedEvents));
        Assert.Equal("[DONE]", replayedEvents[^1]);
        Assert.DoesNotContain(replayedEvents, data => data.Contains("\"usage\":{", StringComparison.Ordinal));

        Assert.Equal("hit", CacheHeader(plain));
        var message = JsonNode.Parse(plainBody)!["choices"]![0]!["message"]!;
        Assert.Equal(Content(originalEvents), (string?)message["content"]);
        Assert.Equal(12, (int)JsonNode.Parse(plainBody)!["usage"]!["completion_tokens"]!);
        Assert.Equal(1, simulator.State.RequestsCompleted);

        using var withUsage = await gateway.Client.SendAsync(
            WithKey(Chat("m", stream: true, prompt: prompt, extra: new { temperature = 0, stream_options = new { include_usage = true } }), keyA),
            HttpCompletionOption.ResponseHeadersRead, Token);
        var usageEvents = await ReadEventsAsync(withUsage, Token);
        Assert.Equal(12, (int)JsonNode.Parse(usageEvents[^2])!["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task An_answer_larger_than_the_entry_limit_is_served_but_not_stored()
    {
        await using var small = await StartGatewayAsync(servers.Redis.ConnectionString, ("Gateway:Cache:MaxEntryBytes", "1024"));
        var prompt = Unique();
        var big = new { temperature = 0, max_tokens = 400 };

        var (first, firstBody) = await SendAsync(keyA, prompt, big, via: small, headers: [("x-sim-output-tokens", "400")]);
        var (second, _) = await SendAsync(keyA, prompt, big, via: small, headers: [("x-sim-output-tokens", "400")]);

        Assert.True(firstBody.Length > 1024);
        Assert.Equal("miss", CacheHeader(first));
        Assert.Equal("miss", CacheHeader(second));
    }

    [Fact]
    public async Task Redis_killed_mid_test_means_uncached_answers_and_caching_resumes_when_it_returns()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var own = await StartGatewayAsync(redis.ConnectionString);
        using var metrics = new MetricRecorder(own.Services, "llmaspire.redis.unavailable");
        var prompt = Unique();
        Assert.Equal("miss", CacheHeader((await SendAsync(keyA, prompt, via: own)).Response));
        Assert.Equal("hit", CacheHeader((await SendAsync(keyA, prompt, via: own)).Response));

        await redis.KillAsync();
        for (var i = 0; i < 3; i++)
        {
            var (response, body) = await SendAsync(keyA, prompt, via: own);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("bypass", CacheHeader(response));
            Assert.NotNull(JsonNode.Parse(body)!["choices"]);
        }

        Assert.True(metrics.Sum("llmaspire.redis.unavailable") >= 3);

        await redis.RestartAsync();
        // The data went with the process (no persistence): once reconnected, the first answer is a miss, then hits.
        await AdmissionTests.WaitUntilAsync(() => CacheHeader(SendAsync(keyA, prompt, via: own).GetAwaiter().GetResult().Response) != "bypass", seconds: 60);
        Assert.Equal("hit", CacheHeader((await SendAsync(keyA, prompt, via: own)).Response));
    }

    private Task<GatewayServer> StartGatewayAsync(string redis, params (string Key, string Value)[] extra) =>
        GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
            .Concat(GatewaySettings(database, redis, spool))
            .Concat(extra.Select(setting => KeyValuePair.Create(setting.Key, setting.Value))));

    private async Task<(HttpResponseMessage Response, string Body)> SendAsync(
        string key, string prompt, object? extra = null, GatewayServer? via = null, (string Name, string Value)[]? headers = null)
    {
        var response = await (via ?? gateway).Client.SendAsync(WithKey(Chat("m", prompt: prompt, extra: extra ?? Greedy, headers: headers ?? []), key), Token);
        var body = await response.Content.ReadAsStringAsync(Token);
        Assert.True(response.IsSuccessStatusCode, body);
        return (response, body);
    }

    private static string? CacheHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-cache", out var values) ? values.Single() : null;

    private static string Unique() => $"Tell me about {Guid.NewGuid():N}";

    private static string Tenant() => "tenant-" + Guid.NewGuid().ToString("N")[..8];
}
