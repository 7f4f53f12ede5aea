using System.Text;
using LlmAspire.Bench.Infrastructure;
using static LlmAspire.Bench.Infrastructure.MarkdownTable;

namespace LlmAspire.Bench.Scenarios;

/// <summary>
/// Latency under sparse traffic: one client sends a request, reads the answer, pauses, and sends the next, so that each
/// target goes idle between requests as it does when requests are minutes-long generations arriving now and then.
/// The closed-loop "1 client" of the proxy scenario keeps a proxy's threads awake; here each request pays for waking
/// them. Targets take turns round by round; medians of the rounds.
/// </summary>
internal sealed class SparseRequests : IScenario
{
    private const string Model = "fast";
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(50);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"Write a short note about connection pools."}],"max_tokens":16}""");

    public string Title => "Sparse requests: latency with a pause before each request";

    public async Task<ScenarioResult> RunAsync(BenchContext context)
    {
        var (servers, settings, stopping) = context;
        // As many requests as the proxy scenario's measurement lasts, at one per pause.
        var count = (int)(settings.Measure / Pause);
        await using var simulator = await servers.StartSimulatorAsync("simulator-sparse", Model, "--output-tokens", "16");
        var upstreams = new Dictionary<string, Uri> { [Model] = simulator.BaseAddress };
        await using var gateway = await servers.StartGatewayAsync(upstreams, name: "gateway-sparse");
        var (nginx, viaNginx) = await servers.StartNginxAsync(upstreams);
        await using var nginxProcess = nginx;
        var (yarp, viaYarp) = await servers.StartReferenceForwarderAsync(upstreams);
        await using var yarpProcess = yarp;
        var variants = new List<(string Name, ServerProcess Process)>();
        foreach (var variant in settings.Variants)
        {
            variants.Add(($"gateway+{variant.Name}", await servers.StartGatewayAsync(upstreams, variant.Settings, $"gateway+{variant.Name}-sparse")));
        }

        await using var stopVariants = new AsyncDisposables(variants.Select(v => v.Process));
        (string Name, RequestTarget Target)[] targets =
        [
            ("direct", new Uri(simulator.BaseAddress, "/v1/chat/completions")),
            ("gateway", new Uri(gateway.BaseAddress, "/v1/chat/completions")),
            ("nginx", new Uri(viaNginx[Model], "/v1/chat/completions")),
            ("yarp", new Uri(viaYarp[Model], "/v1/chat/completions")),
            .. variants.Select(v => (v.Name, (RequestTarget)new Uri(v.Process.BaseAddress, "/v1/chat/completions"))),
        ];
        using var load = new LoadGenerator(maxConnectionsPerServer: 1, stopping);
        foreach (var (_, target) in targets)
        {
            // Warm: JIT and tiering done, one connection open.
            await load.RunRequestsAsync(target, Body, workers: 1, settings.Warmup);
        }

        var results = targets.ToDictionary(t => t.Name, _ => new List<RequestRun>());
        foreach (var (round, target) in Interleaving.Rounds(targets, settings.Rounds))
        {
            var run = await load.RunSparseRequestsAsync(target.Target, Body, count, Pause);
            results[target.Name].Add(run);
            Console.WriteLine($"round {round} {target.Name,-16} p50 {Micros(run.Latency.P50),6} µs p99 {Micros(run.Latency.P99),6} µs | errors {run.Errors}");
        }

        double P50(string name) => Distribution.Median(results[name].Select(r => r.Latency.P50));
        double P99(string name) => Distribution.Median(results[name].Select(r => r.Latency.P99));
        var text = new StringBuilder();
        text.AppendLine($"One client on one kept-alive connection sends a 16-token non-streaming completion, reads the answer, pauses");
        text.AppendLine($"{Pause.TotalMilliseconds:0} ms and sends the next: {count} requests per target and round. The simulator answers at once; the");
        text.AppendLine("gateway, nginx and the bare YARP forwarder are set up as in the proxy scenario.");
        text.AppendLine();
        var table = new MarkdownTable("target", "p50 µs", "p99 µs", "added p50 µs", "added p99 µs");
        foreach (var (name, _) in targets)
        {
            var isDirect = name == "direct";
            table.Add(name, Micros(P50(name)), Micros(P99(name)),
                isDirect ? "—" : Delta(P50(name) - P50("direct")), isDirect ? "—" : Delta(P99(name) - P99("direct")));
        }

        text.Append(table);
        text.AppendLine();
        var ratios = new MarkdownTable("ratio", "value");
        foreach (var (name, _) in targets.Where(t => t.Name.StartsWith("gateway", StringComparison.Ordinal) || t.Name == "yarp"))
        {
            ratios.Add($"{name} added p50 / nginx added p50", Ratio((P50(name) - P50("direct")) / (P50("nginx") - P50("direct"))));
        }

        text.Append(ratios);
        var errors = results.Values.Sum(runs => runs.Sum(r => r.Errors));
        text.AppendLine();
        text.AppendLine($"Measured: {results.Values.Sum(runs => runs.Sum(r => r.Latency.Count))} requests; {errors} failed.");
        return new ScenarioResult(text.ToString(), [], errors);
    }
}
