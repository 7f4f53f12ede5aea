using System.Diagnostics;
using System.Text;
using LlmAspire.Bench.Infrastructure;
using static LlmAspire.Bench.Infrastructure.MarkdownTable;

namespace LlmAspire.Bench.Scenarios;

/// <summary>
/// A newly started gateway's first seconds: throughput second by second from the moment it answers its health check,
/// against the same process's steady state once warm. New replicas of a scaled-out gateway serve these seconds cold
/// (JIT, tiering, empty connection pools). The simulator is started and warmed beforehand, so only the gateway is cold;
/// several gateways are started one after another and the medians reported.
/// </summary>
internal sealed class FreshProcess : IScenario
{
    private const string Model = "fast";
    private const int Workers = 32, FirstSeconds = 5;
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"Write a short note about connection pools."}],"max_tokens":16}""");

    public string Title => "Fresh process: a newly started gateway's first seconds vs its steady state";

    public async Task<ScenarioResult> RunAsync(BenchContext context)
    {
        var (servers, settings, stopping) = context;
        await using var simulator = await servers.StartSimulatorAsync("simulator-fresh", Model, "--output-tokens", "16");
        using var load = new LoadGenerator(maxConnectionsPerServer: 64, stopping);
        await load.RunRequestsAsync(new Uri(simulator.BaseAddress, "/v1/chat/completions"), Body, Workers, settings.Warmup);

        // Long enough for tiered compilation (and its dynamic PGO) to settle on the hot path.
        var warm = settings.Warmup * 5;
        var starts = Math.Max(1, settings.Rounds / 2);
        GatewayVariant[] gateways = [new("", new Dictionary<string, string>()), .. settings.Variants];
        var runs = new List<Start>();
        for (var i = 1; i <= starts; i++)
        {
            foreach (var variant in gateways)
            {
                var name = variant.Name.Length == 0 ? "gateway" : $"gateway+{variant.Name}";
                var launched = Stopwatch.GetTimestamp();
                await using var gateway = await servers.StartGatewayAsync(
                    new Dictionary<string, Uri> { [Model] = simulator.BaseAddress }, variant.Settings, $"{name}-fresh-{i}");
                var ready = Stopwatch.GetElapsedTime(launched);
                var target = new Uri(gateway.BaseAddress, "/v1/chat/completions");
                var seconds = new List<RequestRun>();
                for (var second = 0; second < FirstSeconds; second++)
                {
                    seconds.Add(await load.RunRequestsAsync(target, Body, Workers, TimeSpan.FromSeconds(1)));
                }

                await load.RunRequestsAsync(target, Body, Workers, warm);
                var steady = await load.RunRequestsAsync(target, Body, Workers, TimeSpan.FromSeconds(FirstSeconds));
                var start = new Start(name, ready, seconds, steady);
                runs.Add(start);
                Console.WriteLine($"start {i} {name}: ready in {ready.TotalSeconds:F2} s | first {FirstSeconds} s " +
                    string.Join(" ", seconds.Select(s => Rate(s.RequestsPerSecond))) + $" req/s | steady {Rate(steady.RequestsPerSecond)} req/s | " +
                    $"ratio {Ratio(start.Ratio)} | errors {start.Errors}");
            }
        }

        return Report(runs, warm);
    }

    private static ScenarioResult Report(List<Start> runs, TimeSpan warm)
    {
        var text = new StringBuilder();
        text.AppendLine($"{runs.Count} gateway processes started one after another (settings as in the proxy scenario, Release build, default runtime");
        text.AppendLine($"settings), each loaded by {Workers} closed-loop clients from the moment its health check answers: {FirstSeconds} one-second runs, then");
        text.AppendLine($"{warm.TotalSeconds:0.#} s of unmeasured load, then {FirstSeconds} s measured as its steady state. Non-streaming 16-token completions from a");
        text.AppendLine("zero-delay simulator that was warmed before the first gateway started.");
        text.AppendLine();
        var table = new MarkdownTable(["gateway", "process → healthy s", .. Enumerable.Range(1, FirstSeconds).Select(s => $"second {s} req/s"),
            $"first {FirstSeconds} s req/s", "first-second p99 µs", "steady req/s", "first ÷ steady"]);
        foreach (var run in runs)
        {
            table.Add([run.Name, run.Ready.TotalSeconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture),
                .. run.Seconds.Select(s => Rate(s.RequestsPerSecond)), Rate(run.FirstRate), Micros(run.Seconds[0].Latency.P99),
                Rate(run.Steady.RequestsPerSecond), Ratio(run.Ratio)]);
        }

        text.Append(table);
        text.AppendLine();
        foreach (var group in runs.GroupBy(r => r.Name))
        {
            text.AppendLine($"- {group.Key}: median first {FirstSeconds} s ÷ steady state {Ratio(Distribution.Median(group.Select(r => r.Ratio)))}");
        }

        var defaults = runs.Where(r => r.Name == "gateway").ToList();
        var ratio = Distribution.Median(defaults.Select(r => r.Ratio));
        var errors = runs.Sum(r => r.Errors);
        text.AppendLine();
        text.AppendLine($"{errors} requests failed.");
        Bar[] bars =
        [
            new($"fresh gateway: first {FirstSeconds} s of load ≥ 0.6 × its steady-state throughput",
                $"{Ratio(ratio)} × (starts: {Ratio(defaults.Min(r => r.Ratio))} to {Ratio(defaults.Max(r => r.Ratio))})", ratio >= 0.6),
        ];
        return new ScenarioResult(text.ToString(), bars, errors);
    }

    private sealed record Start(string Name, TimeSpan Ready, List<RequestRun> Seconds, RequestRun Steady)
    {
        public double FirstRate => Seconds.Average(s => s.RequestsPerSecond);

        public double Ratio => FirstRate / Steady.RequestsPerSecond;

        public int Errors => Seconds.Sum(s => s.Errors) + Steady.Errors;
    }
}
