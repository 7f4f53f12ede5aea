using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.ModelManager.Tests.Infrastructure;
using static LlmAspire.Gateway.Tests.Infrastructure.OpenAiRequests;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;

namespace LlmAspire.Gateway.Tests;

/// <summary><c>GET /admin/stats</c>: live figures of served, cached and rate-limited requests against the simulator.</summary>
public sealed class GatewayStatsTests(StorageServers servers)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Stats_count_requests_tokens_cache_hits_and_429s_of_the_last_minute()
    {
        await using var simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "12");
        var spool = Directory.CreateTempSubdirectory("llmaspire-spool-");
        try
        {
            await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
                .Concat(GatewaySettings(await servers.Postgres.CreateDatabaseAsync(), servers.Redis.ConnectionString, spool.FullName)));
            var (_, key) = await CreateKeyAsync(gateway, "team-stats", new { requests_per_minute = 3 });
            var deterministic = new { temperature = 0 };
            var prompt = $"Stats {Guid.NewGuid():N}";

            long tokens = 0;
            foreach (var request in new[] { prompt, prompt, prompt + " again" })
            {
                using var served = await gateway.Client.SendAsync(WithKey(Chat("m", prompt: request, extra: deterministic), key), Token);
                var body = JsonNode.Parse(await served.Content.ReadAsStringAsync(Token))!;
                Assert.Equal(HttpStatusCode.OK, served.StatusCode);
                tokens += (long)body["usage"]!["total_tokens"]!;
            }

            using var refused = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);

            var stats = await StatsAsync(gateway, AdminKey);
            Assert.Equal("gateway.stats", (string?)stats["object"]);
            var window = stats["window"]!;
            Assert.Equal(4, (long)window["requests"]!);
            Assert.Equal(1, (long)window["cache_hits"]!);
            Assert.Equal(1, (long)window["too_many_requests"]!);
            Assert.Equal(0, (long)window["server_errors"]!);
            Assert.Equal(tokens, (long)window["tokens"]!);
            Assert.Equal(window.ToJsonString(), stats["total"]!.ToJsonString());
            Assert.Equal(0.25, (double)stats["cache_hit_rate"]!);
            var seconds = (int)stats["window_seconds"]!;
            Assert.InRange(seconds, 1, 60);
            Assert.Equal(Math.Round(4.0 / seconds, 3), (double)stats["requests_per_second"]!);
            Assert.Equal(Math.Round((double)tokens / seconds, 3), (double)stats["tokens_per_second"]!);
        }
        finally
        {
            spool.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Stats_need_the_admin_key_but_no_database()
    {
        await using var simulator = await SimulatorServer.StartAsync("m");
        await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
            .Append(KeyValuePair.Create("Gateway:Auth:AdminKey", AdminKey)));
        using var served = await gateway.Client.SendAsync(Chat("m"), Token);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);

        using var anonymous = await gateway.Client.GetAsync("/admin/stats", Token);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        var stats = await StatsAsync(gateway, AdminKey);
        Assert.Equal(1, (long)stats["window"]!["requests"]!);
        Assert.Equal(0.0, (double)stats["cache_hit_rate"]!);
    }

    [Fact]
    public async Task Stats_show_each_models_requests_in_flight_and_waiting_for_a_slot()
    {
        await using var simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "40", "--tokens-per-second", "20");
        await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress, ("MaxConcurrent", "1"))
            .Append(KeyValuePair.Create("Gateway:Auth:AdminKey", AdminKey)));

        using var running = await gateway.Client.SendAsync(Chat("m", stream: true), HttpCompletionOption.ResponseHeadersRead, Token);
        var waiting = gateway.Client.SendAsync(Chat("m"), Token);
        await Eventually.HoldsAsync(() => gateway.Queue("m").Queued == 1, "the second request waits for the slot");
        var stats = await StatsAsync(gateway, AdminKey);
        await running.Content.ReadAsStringAsync(Token);
        using var waited = await waiting;

        Assert.Equal(1, (long)stats["models"]!["m"]!["in_flight"]!);
        Assert.Equal(1, (long)stats["models"]!["m"]!["queued"]!);
        Assert.Equal(HttpStatusCode.OK, waited.StatusCode);
        var after = await StatsAsync(gateway, AdminKey);
        Assert.Equal(0, (long)after["models"]!["m"]!["in_flight"]!);
        Assert.Equal(0, (long)after["models"]!["m"]!["queued"]!);
    }

    private static async Task<JsonNode> StatsAsync(GatewayServer gateway, string adminKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/stats");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        using var response = await gateway.Client.SendAsync(request, Token);
        var body = await response.Content.ReadAsStringAsync(Token);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!;
    }
}
