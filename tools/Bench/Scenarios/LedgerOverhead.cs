using System.Text;
using LlmAspire.Bench.Infrastructure;
using static LlmAspire.Bench.Infrastructure.MarkdownTable;

namespace LlmAspire.Bench.Scenarios;

/// <summary>
/// What the usage ledger costs a request: two gateways on the same PostgreSQL and the same zero-delay simulator, one
/// writing a ledger row per request and one with <c>Gateway:Ledger:Enabled=false</c>. The row is queued on the
/// request path and written in batches by a background writer, so the bar is that it adds at most 5% to p50.
/// </summary>
internal sealed class LedgerOverhead : IScenario
{
    private const string Model = "m";

    public string Title => "Usage ledger: on vs off";

    public async Task<ScenarioResult> RunAsync(BenchContext context)
    {
        var servers = context.Servers;
        await using var simulator = await servers.StartSimulatorAsync("simulator-ledger", Model, "--output-tokens", "16");
        var (postgres, database) = await servers.StartPostgresAsync();
        await using var postgresServer = postgres;
        var models = new Dictionary<string, Uri> { [Model] = simulator.BaseAddress };
        Dictionary<string, string> Settings(bool ledger) => new()
        {
            ["ConnectionStrings__gatewaydb"] = database,
            ["Gateway__Ledger__Enabled"] = ledger ? "true" : "false",
            ["Gateway__Ledger__SpoolDirectory"] = Path.Combine(servers.WorkDirectory, "ledger-spool"),
        };
        await using var off = await servers.StartGatewayAsync(models, Settings(ledger: false), "gateway-ledger-off");
        await using var on = await servers.StartGatewayAsync(models, Settings(ledger: true), "gateway-ledger-on");

        var body = RequestComparison.ChatBody(Model, "");
        RequestComparison.Target[] targets =
        [
            new("gateway, ledger off", new Uri(off.BaseAddress, "/v1/chat/completions"), body),
            new("gateway, ledger on", new Uri(on.BaseAddress, "/v1/chat/completions"), body),
        ];
        var s = await RequestComparison.RunAsync(context, targets);
        var (without, with) = (s[targets[0].Name], s[targets[1].Name]);
        var added = with.P50 / without.P50 - 1;

        var text = new StringBuilder();
        text.AppendLine("Two gateways with `ConnectionStrings__gatewaydb` set to one private PostgreSQL on loopback (authentication off in");
        text.AppendLine("both, so only the ledger differs), routing to one zero-delay simulator answering 16 tokens. With the ledger on,");
        text.AppendLine("every request queues one row that a background writer inserts in batches.");
        text.AppendLine();
        text.Append(RequestComparison.Table(s));
        text.AppendLine();
        text.Append(new MarkdownTable("ratio", "value")
            .Add("ledger on p50 / ledger off p50 (1 client)", Ratio(with.P50 / without.P50))
            .Add("ledger on p99 / ledger off p99 (1 client)", Ratio(with.P99 / without.P99))
            .Add("ledger on req/s / ledger off req/s (16 clients)", Ratio(with.Throughput / without.Throughput)));
        text.AppendLine();
        var failed = s.Values.Sum(x => x.Errors);
        text.AppendLine($"Measured: {s.Values.Sum(x => x.Requests)} requests across both targets and rounds; {failed} failed.");

        Bar[] bars =
        [
            new("the ledger adds at most 5% to p50 latency (1 client)",
                $"{Delta(with.P50 - without.P50)} µs on {Micros(without.P50)} µs: {(added * 100).ToString("+0.0;−0.0;0.0", System.Globalization.CultureInfo.InvariantCulture)}%",
                added <= 0.05),
        ];
        return new ScenarioResult(text.ToString(), bars, failed);
    }
}
