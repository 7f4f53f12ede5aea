using System.Text;
using LlmAspire.Bench.Infrastructure;
using static LlmAspire.Bench.Infrastructure.MarkdownTable;

namespace LlmAspire.Bench.Scenarios;

/// <summary>
/// What the gateway adds to a request, against the simulator called directly, nginx as the reference proxy and Portkey's
/// open-source gateway as a peer that people deploy in the same place, all measured in the same run, targets interleaved round by round, medians of the rounds reported:
/// (a) small non-streaming completions from a zero-delay simulator: latency at 1 client, throughput at 32;
/// (b) streamed completions paced at 100 tokens/s: time to first token and the gaps between tokens.
/// </summary>
internal sealed class ProxyOverhead : IScenario
{
    private const string FastModel = "fast", PacedModel = "paced";
    private const int SmallTokens = 16, StreamTokens = 50, TokensPerSecond = 100;
    private const double NoiseFloorMicros = 20;
    private const int LatencyWorkers = 1, ThroughputWorkers = 32, StreamWorkers = 8;

    private static readonly TimeSpan StreamLength = TimeSpan.FromSeconds((double)StreamTokens / TokensPerSecond);
    private static readonly byte[] SmallBody = ChatBody(FastModel, SmallTokens, stream: false);
    private static readonly byte[] StreamBody = ChatBody(PacedModel, StreamTokens, stream: true);

    public string Title => "Proxy overhead: simulator direct vs gateway vs nginx vs a bare YARP forwarder vs Portkey";

    public async Task<ScenarioResult> RunAsync(BenchContext context)
    {
        var (servers, settings, stopping) = context;
        await using var fast = await servers.StartSimulatorAsync("simulator-fast", FastModel, "--output-tokens", $"{SmallTokens}");
        await using var paced = await servers.StartSimulatorAsync("simulator-paced", PacedModel,
            "--output-tokens", $"{StreamTokens}", "--tokens-per-second", $"{TokensPerSecond}");
        var upstreams = new Dictionary<string, Uri> { [FastModel] = fast.BaseAddress, [PacedModel] = paced.BaseAddress };
        await using var gateway = await servers.StartGatewayAsync(upstreams);
        var (nginx, viaNginx) = await servers.StartNginxAsync(upstreams);
        await using var nginxProcess = nginx;
        var (yarp, viaYarp) = await servers.StartReferenceForwarderAsync(upstreams);
        await using var yarpProcess = yarp;
        await using var portkey = await servers.StartPortkeyAsync();
        var variants = new List<(GatewayVariant Variant, ServerProcess Process)>();
        foreach (var variant in settings.Variants)
        {
            variants.Add((variant, await servers.StartGatewayAsync(upstreams, variant.Settings, $"gateway+{variant.Name}")));
        }

        await using var stopVariants = new AsyncDisposables(variants.Select(v => v.Process));

        Target[] targets =
        [
            new("direct", Completions(fast.BaseAddress), Completions(paced.BaseAddress)),
            new("gateway", Completions(gateway.BaseAddress), Completions(gateway.BaseAddress)),
            new("nginx", Completions(viaNginx[FastModel]), Completions(viaNginx[PacedModel])),
            new("yarp", Completions(viaYarp[FastModel]), Completions(viaYarp[PacedModel])),
            new("portkey", Servers.PortkeyRoute(portkey, fast.BaseAddress), Servers.PortkeyRoute(portkey, paced.BaseAddress)),
            .. variants.Select(v => new Target($"gateway+{v.Variant.Name}", Completions(v.Process.BaseAddress), Completions(v.Process.BaseAddress))),
        ];
        using var load = new LoadGenerator(maxConnectionsPerServer: 64, stopping);

        Console.WriteLine($"warming up: {settings.Warmup.TotalSeconds:0.#} s per target and load");
        foreach (var target in targets)
        {
            var check = await load.RunRequestsAsync(target.Small, SmallBody, ThroughputWorkers, settings.Warmup);
            var streams = await load.RunStreamsAsync(target.Stream, StreamBody, StreamTokens, StreamWorkers, settings.Warmup, StreamLength);
            if (check.Errors + streams.Errors > 0 || check.Latency.Count == 0 || streams.Streams == 0)
            {
                throw new InvalidOperationException(
                    $"{target.Name} failed {check.Errors} of {check.Errors + check.Latency.Count} requests and {streams.Errors} of " +
                    $"{streams.Errors + streams.Streams} streams while warming up; see the logs in {servers.WorkDirectory}.");
            }
        }

        var results = targets.ToDictionary(t => t.Name, _ => new List<Round>());
        foreach (var (round, target) in Interleaving.Rounds(targets, settings.Rounds))
        {
            var single = await Settled(duration => load.RunRequestsAsync(target.Small, SmallBody, LatencyWorkers, duration));
            var many = await Settled(duration => load.RunRequestsAsync(target.Small, SmallBody, ThroughputWorkers, duration));
            var streams = await Settled(duration => load.RunStreamsAsync(target.Stream, StreamBody, StreamTokens, StreamWorkers, duration, StreamLength));
            results[target.Name].Add(new Round(single, many, streams));
            Console.WriteLine(
                $"round {round} {target.Name,-8} 1 client p50 {Micros(single.Latency.P50),6} µs p99 {Micros(single.Latency.P99),6} µs | " +
                $"{ThroughputWorkers} clients {Rate(many.RequestsPerSecond),6} req/s | stream ttft p50 {Micros(streams.TimeToFirstToken.P50),6} µs " +
                $"gap p50 {Micros(streams.TokenGaps.P50),6} µs p99 {Micros(streams.TokenGaps.P99),6} µs | errors {single.Errors + many.Errors + streams.Errors}");
        }

        return Report(results.ToDictionary(entry => entry.Key, entry => Summary.Of(entry.Value)), results, settings.Variants);

        // The same load, unmeasured, then measured: the target's connections are open and its pools warm.
        async Task<T> Settled<T>(Func<TimeSpan, Task<T>> run)
        {
            await run(settings.Settle);
            return await run(settings.Measure);
        }
    }

    private static ScenarioResult Report(Dictionary<string, Summary> s, Dictionary<string, List<Round>> rounds, IReadOnlyList<GatewayVariant> variants)
    {
        var (direct, gateway, nginx, yarp, portkey) = (s["direct"], s["gateway"], s["nginx"], s["yarp"], s["portkey"]);
        var text = new StringBuilder();
        text.AppendLine($"Two simulators, one answering {SmallTokens} tokens at once and one streaming {StreamTokens} tokens at {TokensPerSecond} tokens/s, each called");
        text.AppendLine("directly, through the gateway (both models routed, `MaxConcurrent` 512, `MaxQueue` 4096, logs at Warning, no OTLP");
        text.AppendLine("endpoint) and through nginx (one listener per simulator, `proxy_pass` to an upstream with `keepalive 64`, HTTP/1.1,");
        text.AppendLine("`proxy_buffering off`, 2 workers, no access log) and through Portkey's gateway (Node, production mode, provider");
        text.AppendLine("`openai` with the simulator as its custom host, given in request headers), and through `yarp`, a bare YARP forwarder");
        text.AppendLine("(`tools/ReferenceForwarder`: Kestrel and `MapForwarder`, none of the gateway's work), the floor for an ASP.NET Core proxy");
        text.AppendLine("on this machine. Clients are closed-loop workers in one .NET");
        text.AppendLine($"process sharing one pooled HTTP/1.1 handler; \"1 client\" measures pure added latency, {ThroughputWorkers} clients measure throughput.");
        text.AppendLine();

        text.AppendLine($"### (a) Non-streaming chat completions, zero-delay simulator, {SmallTokens} output tokens");
        text.AppendLine();
        var requests = new MarkdownTable("target", "1 client p50 µs", "1 client p99 µs", "added p50 µs", "added p99 µs",
            $"{ThroughputWorkers} clients req/s", $"{ThroughputWorkers} clients p50 µs", $"{ThroughputWorkers} clients p99 µs");
        foreach (var (name, x) in s)
        {
            var isDirect = name == "direct";
            requests.Add(name, Micros(x.P50), Micros(x.P99),
                isDirect ? "—" : Delta(x.P50 - direct.P50), isDirect ? "—" : Delta(x.P99 - direct.P99),
                Rate(x.Throughput), Micros(x.LoadedP50), Micros(x.LoadedP99));
        }

        text.Append(requests);
        text.AppendLine();
        var addedRatio = AddedRatio(gateway.P50 - direct.P50, nginx.P50 - direct.P50);
        text.Append(new MarkdownTable("ratio", "value")
            .Add("gateway added p50 / nginx added p50 (1 client)", AddedRatioCell(gateway.P50 - direct.P50, nginx.P50 - direct.P50))
            .Add("gateway added p99 / nginx added p99 (1 client)", AddedRatioCell(gateway.P99 - direct.P99, nginx.P99 - direct.P99))
            .Add("gateway p50 / direct p50 (1 client)", Ratio(gateway.P50 / direct.P50))
            .Add("gateway p50 / nginx p50 (1 client)", Ratio(gateway.P50 / nginx.P50))
            .Add($"gateway req/s / direct req/s ({ThroughputWorkers} clients)", Ratio(gateway.Throughput / direct.Throughput))
            .Add($"gateway req/s / nginx req/s ({ThroughputWorkers} clients)", Ratio(gateway.Throughput / nginx.Throughput))
            .Add($"gateway req/s / portkey req/s ({ThroughputWorkers} clients)", Ratio(gateway.Throughput / portkey.Throughput))
            .Add($"nginx req/s / direct req/s ({ThroughputWorkers} clients)", Ratio(nginx.Throughput / direct.Throughput))
            .Add($"yarp req/s / nginx req/s ({ThroughputWorkers} clients)", Ratio(yarp.Throughput / nginx.Throughput))
            .Add($"gateway req/s / yarp req/s ({ThroughputWorkers} clients)", Ratio(gateway.Throughput / yarp.Throughput))
            .Add("yarp added p50 / nginx added p50 (1 client)", AddedRatioCell(yarp.P50 - direct.P50, nginx.P50 - direct.P50))
            .Add("gateway added p50 / yarp added p50 (1 client)", AddedRatioCell(gateway.P50 - direct.P50, yarp.P50 - direct.P50)));
        text.AppendLine();

        text.AppendLine($"### (b) Streamed chat completions, {StreamTokens} tokens at {TokensPerSecond} tokens/s, {StreamWorkers} concurrent streams");
        text.AppendLine();
        var streams = new MarkdownTable("target", "TTFT p50 µs", "TTFT p99 µs", "added TTFT p50 µs", "added TTFT p99 µs",
            "gap p50 µs", "gap p99 µs", "gap p50 − direct µs", "gap p99 − direct µs");
        foreach (var (name, x) in s)
        {
            var isDirect = name == "direct";
            streams.Add(name, Micros(x.TtftP50), Micros(x.TtftP99),
                isDirect ? "—" : Delta(x.TtftP50 - direct.TtftP50), isDirect ? "—" : Delta(x.TtftP99 - direct.TtftP99),
                Micros(x.GapP50), Micros(x.GapP99),
                isDirect ? "—" : Delta(x.GapP50 - direct.GapP50), isDirect ? "—" : Delta(x.GapP99 - direct.GapP99));
        }

        text.Append(streams);
        text.AppendLine();
        text.Append(new MarkdownTable("ratio", "value")
            .Add("gateway added TTFT p50 / nginx added TTFT p50", AddedRatioCell(gateway.TtftP50 - direct.TtftP50, nginx.TtftP50 - direct.TtftP50))
            .Add("gateway TTFT p50 / direct TTFT p50", Ratio(gateway.TtftP50 / direct.TtftP50))
            .Add("gateway TTFT p50 / nginx TTFT p50", Ratio(gateway.TtftP50 / nginx.TtftP50))
            .Add("yarp added TTFT p50 / nginx added TTFT p50", AddedRatioCell(yarp.TtftP50 - direct.TtftP50, nginx.TtftP50 - direct.TtftP50))
            .Add("gateway gap p99 / direct gap p99", Ratio(gateway.GapP99 / direct.GapP99)));
        text.AppendLine();

        if (variants.Count > 0)
        {
            text.AppendLine("### Gateway variants (experiments, same run)");
            text.AppendLine();
            var table = new MarkdownTable("gateway", "settings", "added p50 ÷ nginx added p50", $"req/s ÷ nginx req/s ({ThroughputWorkers} clients)",
                "added TTFT p50 ÷ nginx added TTFT p50") { TextColumns = true };
            foreach (var (name, settings) in variants.Select(v => ($"gateway+{v.Name}", string.Join(", ", v.Settings.Select(kv => $"`{kv.Key}={kv.Value}`")))).Prepend(("gateway", "defaults")))
            {
                var x = s[name];
                table.Add(name, settings, Ratio(AddedRatio(x.P50 - direct.P50, nginx.P50 - direct.P50)), Ratio(x.Throughput / nginx.Throughput),
                    Ratio(AddedRatio(x.TtftP50 - direct.TtftP50, nginx.TtftP50 - direct.TtftP50)));
            }

            text.Append(table);
            text.AppendLine();
        }

        var samples = s.Values.Sum(x => x.Requests);
        var streamCount = s.Values.Sum(x => x.Streams);
        var failed = s.Values.Sum(x => x.Errors);
        text.AppendLine($"Measured: {samples} non-streaming requests and {streamCount} streams ({streamCount * (StreamTokens - 1)} token gaps) " +
            $"across all targets and rounds; {failed} failed.");

        // The same measure within each round (targets ran back to back there): how much the verdict depends on noise.
        var perRound = rounds["direct"].Select((d, i) => (Direct: d, Gateway: rounds["gateway"][i], Nginx: rounds["nginx"][i])).ToList();
        var roundRatios = perRound.Select(r => AddedRatio(
            r.Gateway.Single.Latency.P50 - r.Direct.Single.Latency.P50, r.Nginx.Single.Latency.P50 - r.Direct.Single.Latency.P50));
        var roundGapDeltas = perRound.Select(r => r.Gateway.Streams.TokenGaps.P99 - r.Direct.Streams.TokenGaps.P99);
        var gapDelta = gateway.GapP99 - direct.GapP99;
        Bar[] bars =
        [
            new("gateway added p50 latency ≤ 1.3 × nginx added p50 latency (1 client)",
                $"{Delta(gateway.P50 - direct.P50)} µs vs {Delta(nginx.P50 - direct.P50)} µs: {Ratio(addedRatio)} × " +
                $"(rounds: {Ratio(roundRatios.Min())} to {Ratio(roundRatios.Max())})",
                addedRatio <= 1.3 || gateway.P50 - direct.P50 <= 0),
            new($"gateway throughput ≥ 0.9 × nginx throughput ({ThroughputWorkers} clients)",
                $"{Rate(gateway.Throughput)} vs {Rate(nginx.Throughput)} req/s: {Ratio(gateway.Throughput / nginx.Throughput)} ×",
                gateway.Throughput >= 0.9 * nginx.Throughput),
            new($"gateway throughput ≥ 5 × Portkey throughput ({ThroughputWorkers} clients)",
                $"{Rate(gateway.Throughput)} vs {Rate(portkey.Throughput)} req/s: {Ratio(gateway.Throughput / portkey.Throughput)} ×",
                gateway.Throughput >= 5 * portkey.Throughput),
            new("gateway added TTFT p50 ≤ 1.5 × nginx added TTFT p50 (streams)",
                $"{Delta(gateway.TtftP50 - direct.TtftP50)} µs vs {Delta(nginx.TtftP50 - direct.TtftP50)} µs: " +
                $"{Ratio(AddedRatio(gateway.TtftP50 - direct.TtftP50, nginx.TtftP50 - direct.TtftP50))} ×",
                gateway.TtftP50 - direct.TtftP50 <= 1.5 * Math.Max(nginx.TtftP50 - direct.TtftP50, 0)),
            new("gateway inter-token gap p99 within 1 ms of direct",
                $"{Delta(gapDelta)} µs (rounds: {Delta(roundGapDeltas.Min())} to {Delta(roundGapDeltas.Max())} µs)",
                Math.Abs(gapDelta) <= 1000),
        ];
        return new ScenarioResult(text.ToString(), bars, failed);
    }

    /// <summary>Ratio of two added latencies; undefined when the reference adds nothing measurable.</summary>
    private static double AddedRatio(double added, double referenceAdded) => referenceAdded > 0 ? added / referenceAdded : double.NaN;

    /// <summary>The ratio, or why it says little: below <see cref="NoiseFloorMicros"/> the reference's added time is noise.</summary>
    private static string AddedRatioCell(double added, double referenceAdded) => referenceAdded >= NoiseFloorMicros
        ? Ratio(AddedRatio(added, referenceAdded))
        : $"— (nginx adds {Delta(referenceAdded)} µs; compare the absolute values)";

    private static byte[] ChatBody(string model, int maxTokens, bool stream) => Encoding.UTF8.GetBytes(
        $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Write a short note about connection pools."}],"max_tokens":{{maxTokens}},"stream":{{(stream ? "true" : "false")}}}""");

    private static Uri Completions(Uri server) => new(server, "/v1/chat/completions");

    private sealed record Target(string Name, RequestTarget Small, RequestTarget Stream);

    private sealed record Round(RequestRun Single, RequestRun Many, StreamRun Streams);

    /// <summary>One target's numbers: each the median over rounds of that round's value.</summary>
    private sealed record Summary(
        double P50, double P99, double Throughput, double LoadedP50, double LoadedP99,
        double TtftP50, double TtftP99, double GapP50, double GapP99, int Requests, int Streams, int Errors)
    {
        public static Summary Of(List<Round> rounds)
        {
            double M(Func<Round, double> value) => Distribution.Median(rounds.Select(value));
            return new(
                M(r => r.Single.Latency.P50), M(r => r.Single.Latency.P99),
                M(r => r.Many.RequestsPerSecond), M(r => r.Many.Latency.P50), M(r => r.Many.Latency.P99),
                M(r => r.Streams.TimeToFirstToken.P50), M(r => r.Streams.TimeToFirstToken.P99),
                M(r => r.Streams.TokenGaps.P50), M(r => r.Streams.TokenGaps.P99),
                rounds.Sum(r => r.Single.Latency.Count + r.Many.Latency.Count), rounds.Sum(r => r.Streams.Streams),
                rounds.Sum(r => r.Single.Errors + r.Many.Errors + r.Streams.Errors));
        }
    }
}
