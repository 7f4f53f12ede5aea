using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.Gateway.Tests.Infrastructure.LedgerTable;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// A stream the model server breaks off (crash, in-stream error, silence) ends for the client with an error event and
/// [DONE], and is accounted as what it was: the status the error stands for, the tokens delivered until then, charged
/// against the key's limits.
/// </summary>
public sealed class BrokenStreamBillingTests(StorageServers servers) : IAsyncLifetime
{
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;
    private GatewayServer gateway = null!;
    private string database = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "100");
        database = await servers.Postgres.CreateDatabaseAsync();
        gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress, ("StreamIdleTimeout", "00:00:00.500"))
            .Concat(GatewaySettings(database, servers.Redis.ConnectionString, spool)));
    }

    public async ValueTask DisposeAsync()
    {
        await gateway.DisposeAsync();
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Theory]
    [InlineData("crash-after=60", 60, 502, "\"upstream_stream_broken\"")]
    [InlineData("stream-error-after=40", 40, 500, "500")]
    [InlineData("hang-after=30", 30, 504, "\"upstream_timeout\"")]
    public async Task A_broken_stream_is_recorded_with_its_error_status_and_the_tokens_delivered_and_charged(string fault, int delivered, int status, string code)
    {
        var (id, key) = await CreateKeyAsync(gateway, $"team-{Guid.NewGuid():N}"[..20], new { tokens_per_minute = delivered - 5 });

        using (var response = await gateway.Client.SendAsync(WithKey(Chat("m", stream: true, headers: ("x-sim-fault", fault)), key), HttpCompletionOption.ResponseHeadersRead, Token))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var events = await ReadEventsAsync(response, Token);
            Assert.Equal(delivered, Content(events[..^2]).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
            Assert.Equal(code, JsonNode.Parse(events[^2])!["error"]!["code"]!.ToJsonString());
            Assert.Equal("[DONE]", events[^1]);
        }

        await Eventually.HoldsAsync(async () => (await RowsAsync(database)).Any(row => row.KeyId == id), "the request has its ledger row");
        var row = Assert.Single(await RowsAsync(database), row => row.KeyId == id);
        Assert.Equal((status, (long)delivered), (row.Status, row.CompletionTokens));

        // The delivered tokens were charged: the key's per-minute token limit, below them, now refuses the next request.
        using var next = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
        Assert.Equal(HttpStatusCode.TooManyRequests, next.StatusCode);
        Assert.Equal("rate_limit_exceeded", (string?)(await ErrorAsync(next))["code"]);
    }
}
