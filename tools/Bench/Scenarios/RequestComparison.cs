using LlmAspire.Bench.Infrastructure;
using static LlmAspire.Bench.Infrastructure.MarkdownTable;

namespace LlmAspire.Bench.Scenarios;

/// <summary>
/// Non-streaming requests against several targets, interleaved round by round: latency at 1 client and throughput at
/// 16, each the median over rounds. For scenarios that compare gateway configurations on the same request.
/// </summary>
internal static class RequestComparison
{
    public const int LatencyWorkers = 1, ThroughputWorkers = 16;

    public sealed record Target(string Name, Uri Url, byte[] Body);

    /// <summary>One target's medians over rounds.</summary>
    public sealed record Summary(double P50, double P99, double Throughput, double LoadedP50, double LoadedP99, int Requests, int Errors);

    public static async Task<Dictionary<string, Summary>> RunAsync(BenchContext context, IReadOnlyList<Target> targets)
    {
        var (servers, settings, stopping) = context;
        using var load = new LoadGenerator(maxConnectionsPerServer: 64, stopping);
        Console.WriteLine($"warming up: {settings.Warmup.TotalSeconds:0.#} s per target");
        foreach (var target in targets)
        {
            var check = await load.RunRequestsAsync(target.Url, target.Body, ThroughputWorkers, settings.Warmup);
            if (check.Errors > 0 || check.Latency.Count == 0)
            {
                throw new InvalidOperationException(
                    $"{target.Name} failed {check.Errors} of {check.Errors + check.Latency.Count} requests while warming up; see the logs in {servers.WorkDirectory}.");
            }
        }

        var rounds = targets.ToDictionary(t => t.Name, _ => new List<(RequestRun Single, RequestRun Many)>());
        foreach (var (round, target) in Interleaving.Rounds(targets, settings.Rounds))
        {
            // The same load, unmeasured, then measured: connections open and pools warm.
            await load.RunRequestsAsync(target.Url, target.Body, LatencyWorkers, settings.Settle);
            var single = await load.RunRequestsAsync(target.Url, target.Body, LatencyWorkers, settings.Measure);
            await load.RunRequestsAsync(target.Url, target.Body, ThroughputWorkers, settings.Settle);
            var many = await load.RunRequestsAsync(target.Url, target.Body, ThroughputWorkers, settings.Measure);
            rounds[target.Name].Add((single, many));
            Console.WriteLine($"round {round} {target.Name,-22} 1 client p50 {Micros(single.Latency.P50),6} µs p99 {Micros(single.Latency.P99),6} µs | " +
                $"{ThroughputWorkers} clients {Rate(many.RequestsPerSecond),6} req/s | errors {single.Errors + many.Errors}");
        }

        return rounds.ToDictionary(entry => entry.Key, entry =>
        {
            var r = entry.Value;
            double M(Func<(RequestRun Single, RequestRun Many), double> value) => Distribution.Median(r.Select(value));
            return new Summary(M(x => x.Single.Latency.P50), M(x => x.Single.Latency.P99), M(x => x.Many.RequestsPerSecond),
                M(x => x.Many.Latency.P50), M(x => x.Many.Latency.P99),
                r.Sum(x => x.Single.Latency.Count + x.Many.Latency.Count), r.Sum(x => x.Single.Errors + x.Many.Errors));
        });
    }

    /// <summary>The table every comparison prints: one line per target.</summary>
    public static MarkdownTable Table(Dictionary<string, Summary> summaries)
    {
        var table = new MarkdownTable("target", "1 client p50 µs", "1 client p99 µs",
            $"{ThroughputWorkers} clients req/s", $"{ThroughputWorkers} clients p50 µs", $"{ThroughputWorkers} clients p99 µs");
        foreach (var (name, x) in summaries)
        {
            table.Add(name, Micros(x.P50), Micros(x.P99), Rate(x.Throughput), Micros(x.LoadedP50), Micros(x.LoadedP99));
        }

        return table;
    }

    public static byte[] ChatBody(string model, string sampling) => System.Text.Encoding.UTF8.GetBytes(
        $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Write a short note about connection pools."}],"max_tokens":16{{sampling}}}""");
}
