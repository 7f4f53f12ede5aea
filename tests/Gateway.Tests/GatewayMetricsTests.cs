using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Api.Telemetry;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// The gateway's figures as OpenTelemetry metrics (what the dashboard's Metrics page shows): requests by outcome,
/// tokens served, cache hits and misses, 429s, and each model's requests in flight and queued.
/// </summary>
public sealed class GatewayMetricsTests(StorageServers servers)
{
    private static readonly string[] Instruments =
    [
        "llmaspire.gateway.requests", "llmaspire.gateway.tokens", "llmaspire.cache.requests",
        "llmaspire.gateway.requests.in_flight", "llmaspire.gateway.requests.queued",
    ];

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Requests_tokens_cache_hits_and_429s_are_counted_per_model()
    {
        await using var simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "12");
        var spool = Directory.CreateTempSubdirectory("llmaspire-spool-");
        try
        {
            await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
                .Concat(GatewaySettings(await servers.Postgres.CreateDatabaseAsync(), servers.Redis.ConnectionString, spool.FullName)));
            using var metrics = new MetricRecorder(gateway.Services, Instruments);
            var (_, key) = await CreateKeyAsync(gateway, "team-metrics", new { requests_per_minute = 4 });
            var prompt = $"Metrics {Guid.NewGuid():N}";

            long tokens = 0;
            foreach (var request in new[] { prompt, prompt, prompt + " again" })
            {
                using var served = await gateway.Client.SendAsync(WithKey(Chat("m", prompt: request, extra: new { temperature = 0 }), key), Token);
                var body = JsonNode.Parse(await served.Content.ReadAsStringAsync(Token))!;
                Assert.Equal(HttpStatusCode.OK, served.StatusCode);
                tokens += (long)body["usage"]!["total_tokens"]!;
            }

            using (var unknown = await gateway.Client.SendAsync(WithKey(Chat($"no-such-model-{Guid.NewGuid():N}"), key), Token))
            {
                Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            }

            using (var refused = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            }

            Assert.Equal(5, metrics.Sum("llmaspire.gateway.requests"));
            Assert.Equal(3, metrics.Sum("llmaspire.gateway.requests", "gen_ai.request.model", "m"));
            // Neither a model name nobody serves nor a request refused before its body was read is a series of its own.
            Assert.Equal(2, metrics.Sum("llmaspire.gateway.requests", "gen_ai.request.model", GatewayMetrics.OtherModel));
            Assert.Equal(1, metrics.Sum("llmaspire.gateway.requests", "http.response.status_code", 404));
            Assert.Equal(1, metrics.Sum("llmaspire.gateway.requests", "http.response.status_code", 429));
            Assert.Equal(1, metrics.Sum("llmaspire.gateway.requests", "llmaspire.cached", true));
            Assert.Equal(tokens, metrics.Sum("llmaspire.gateway.tokens"));
            Assert.Equal(36, metrics.Sum("llmaspire.gateway.tokens", "gen_ai.token.type", "output"));
            Assert.Equal(1, metrics.Sum("llmaspire.cache.requests", "result", "hit"));
            Assert.Equal(2, metrics.Sum("llmaspire.cache.requests", "result", "miss"));
        }
        finally
        {
            spool.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Each_models_requests_in_flight_and_waiting_for_a_slot_are_observed()
    {
        await using var simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "40", "--tokens-per-second", "20");
        await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress, ("MaxConcurrent", "1")));
        using var metrics = new MetricRecorder(gateway.Services, Instruments);

        using var running = await gateway.Client.SendAsync(Chat("m", stream: true), HttpCompletionOption.ResponseHeadersRead, Token);
        var waiting = gateway.Client.SendAsync(Chat("m"), Token);
        await Eventually.HoldsAsync(() => gateway.Queue("m").Queued == 1, "the second request waits for the slot");
        Assert.Equal((1, 1), Observe(metrics));

        await running.Content.ReadAsStringAsync(Token);
        using var waited = await waiting;
        Assert.Equal(HttpStatusCode.OK, waited.StatusCode);
        Assert.Equal((0, 0), Observe(metrics));
        Assert.Equal(2, metrics.Sum("llmaspire.gateway.requests", "http.response.status_code", 200));
    }

    private static (double InFlight, double Queued) Observe(MetricRecorder metrics)
    {
        metrics.Observe();
        return (metrics.Select("llmaspire.gateway.requests.in_flight", "gen_ai.request.model", "m")[^1],
            metrics.Select("llmaspire.gateway.requests.queued", "gen_ai.request.model", "m")[^1]);
    }
}
