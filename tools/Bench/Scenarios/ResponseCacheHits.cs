using System.Text;
using LlmAspire.Bench.Infrastructure;
using static LlmAspire.Bench.Infrastructure.MarkdownTable;

namespace LlmAspire.Bench.Scenarios;

/// <summary>
/// A cached answer against one the model server has to produce: the gateway with Redis answering a deterministic
/// request from the cache (<c>x-cache: hit</c>), the same gateway forwarding a sampled request to a zero-delay
/// simulator (<c>x-cache: bypass</c>: the miss path without the store), and the simulator called directly.
/// </summary>
internal sealed class ResponseCacheHits : IScenario
{
    private const string Model = "m";

    public string Title => "Response cache: hit vs answer served by the simulator";

    public async Task<ScenarioResult> RunAsync(BenchContext context)
    {
        var servers = context.Servers;
        await using var simulator = await servers.StartSimulatorAsync("simulator-cache", Model, "--output-tokens", "16");
        await using var redis = await servers.StartRedisAsync();
        await using var gateway = await servers.StartGatewayAsync(new Dictionary<string, Uri> { [Model] = simulator.BaseAddress },
            new Dictionary<string, string> { ["ConnectionStrings__cache"] = redis.ConnectionString }, "gateway-cache");

        var chat = new Uri(gateway.BaseAddress, "/v1/chat/completions");
        RequestComparison.Target[] targets =
        [
            new("gateway, cache hit", chat, RequestComparison.ChatBody(Model, ""","temperature":0""")),
            new("gateway, simulator answers", chat, RequestComparison.ChatBody(Model, ""","temperature":0.7""")),
            new("simulator direct", new Uri(simulator.BaseAddress, "/v1/chat/completions"), RequestComparison.ChatBody(Model, ""","temperature":0.7""")),
        ];
        var s = await RequestComparison.RunAsync(context, targets);
        var (hit, miss, direct) = (s[targets[0].Name], s[targets[1].Name], s[targets[2].Name]);

        var text = new StringBuilder();
        text.AppendLine("One gateway with `ConnectionStrings__cache` set to a private redis-server on loopback and a zero-delay simulator");
        text.AppendLine("answering 16 tokens. \"cache hit\" sends `temperature: 0` (stored after the warm-up's first request, then always a");
        text.AppendLine("hit); \"simulator answers\" sends `temperature: 0.7` (not deterministic: `x-cache: bypass`, forwarded). A real model");
        text.AppendLine("takes tens of milliseconds to seconds for such an answer, so the simulator row is a floor for a miss.");
        text.AppendLine();
        text.Append(RequestComparison.Table(s));
        text.AppendLine();
        text.Append(new MarkdownTable("ratio", "value")
            .Add("cache hit p50 / simulator-served p50 (1 client)", Ratio(hit.P50 / miss.P50))
            .Add("cache hit req/s / simulator-served req/s (16 clients)", Ratio(hit.Throughput / miss.Throughput))
            .Add("cache hit p50 / simulator direct p50 (1 client)", Ratio(hit.P50 / direct.P50)));
        text.AppendLine();
        var failed = s.Values.Sum(x => x.Errors);
        text.AppendLine($"Measured: {s.Values.Sum(x => x.Requests)} requests across all targets and rounds; {failed} failed.");

        Bar[] bars =
        [
            new("a cache hit is answered faster than the zero-delay simulator answers through the gateway (p50, 1 client)",
                $"{Micros(hit.P50)} µs vs {Micros(miss.P50)} µs", hit.P50 < miss.P50),
        ];
        return new ScenarioResult(text.ToString(), bars, failed);
    }
}
