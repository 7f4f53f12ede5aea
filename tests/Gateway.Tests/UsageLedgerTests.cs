using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers;
using static LlmAspire.Gateway.Tests.Infrastructure.LedgerTable;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>The usage ledger against a real PostgreSQL: one row per request, through outages and shutdowns, never twice.</summary>
public sealed class UsageLedgerTests(StorageServers servers) : IAsyncLifetime
{
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "12");

    public async ValueTask DisposeAsync()
    {
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task Every_request_gets_one_row_with_its_usage_and_outcome_and_usage_totals_add_up()
    {
        var database = await servers.Postgres.CreateDatabaseAsync();
        await using var gateway = await StartGatewayAsync(database, servers.Redis.ConnectionString);
        var (id, key) = await CreateKeyAsync(gateway, "team-ledger");
        var prompt = $"ledger {Guid.NewGuid():N}";

        await SendAsync(gateway, WithKey(Chat("m", prompt: prompt, extra: new { temperature = 0 }), key), HttpStatusCode.OK);
        await SendAsync(gateway, WithKey(Chat("m", prompt: prompt, extra: new { temperature = 0 }), key), HttpStatusCode.OK);
        using (var stream = await gateway.Client.SendAsync(WithKey(Chat("m", stream: true), key), HttpCompletionOption.ResponseHeadersRead, Token))
        {
            await ReadEventsAsync(stream, Token);
        }

        await SendAsync(gateway, WithKey(Chat("unknown-model"), key), HttpStatusCode.NotFound);
        await SendAsync(gateway, WithKey(Post("/v1/chat/completions", "{not json"), key), HttpStatusCode.BadRequest);

        await WaitForRowsAsync(database, 5);
        var rows = await RowsAsync(database);
        Assert.All(rows, row => Assert.Equal((id, "team-ledger"), (row.KeyId, row.Tenant)));
        Assert.Equal([(200, false, 12L), (200, true, 12L), (200, false, 12L), (404, false, 0L), (400, false, 0L)],
            rows.Select(row => (row.Status, row.Cached, row.CompletionTokens)));
        Assert.Equal(["m", "m", "m", "unknown-model", ""], rows.Select(row => row.Model));
        Assert.All(rows[..3], row => Assert.True(row.PromptTokens > 0));
        Assert.Equal([false, false, true, false, false], rows.Select(row => row.TimeToFirstTokenMs is not null));

        using var request = WithKey(new HttpRequestMessage(HttpMethod.Get, $"/admin/usage?key_id={id}"), AdminKey);
        using var response = await gateway.Client.SendAsync(request, Token);
        var usage = JsonNode.Parse(await response.Content.ReadAsStringAsync(Token))!["data"]!.AsArray();
        var model = Assert.Single(usage, line => (string?)line!["model"] == "m")!;
        Assert.Equal(3, (int)model["requests"]!);
        Assert.Equal(1, (int)model["cached_requests"]!);
        Assert.Equal(36, (int)model["completion_tokens"]!);
        Assert.Equal(5, usage.Sum(line => (int)line!["requests"]!));
        Assert.Equal(2, usage.Sum(line => (int)line!["failed_requests"]!));
    }

    [Fact]
    public async Task PostgreSQL_stopped_for_60_seconds_while_requests_flow_loses_no_row_and_duplicates_none()
    {
        await using var postgres = await PostgresServer.StartAsync();
        var database = await postgres.CreateDatabaseAsync();
        await using var gateway = await StartGatewayAsync(database, servers.Redis.ConnectionString);
        using var metrics = new MetricRecorder(gateway.Services, "llmaspire.ledger.rows.spooled");
        var (_, key) = await CreateKeyAsync(gateway, "team-outage");

        using var stopLoad = new CancellationTokenSource();
        var sent = 0;
        var failures = 0;
        var load = Enumerable.Range(0, 4).Select(async _ =>
        {
            // Bounded in count and paced: about 80 requests a second for a little over a minute.
            for (var i = 0; i < 2_000 && !stopLoad.IsCancellationRequested; i++)
            {
                using var response = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
                Interlocked.Increment(ref sent);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                }

                await Task.Delay(50, Token);
            }
        }).ToList();

        await Task.Delay(TimeSpan.FromSeconds(2), Token);
        await postgres.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(60), Token);
        Assert.True(metrics.Sum("llmaspire.ledger.rows.spooled") > 0, "Nothing was spooled while PostgreSQL was down.");
        await postgres.RestartAsync();
        await Task.Delay(TimeSpan.FromSeconds(3), Token);
        await stopLoad.CancelAsync();
        await Task.WhenAll(load);

        // Every request was answered (known keys keep working from the key cache during the outage)...
        Assert.Equal(0, failures);
        // ...and, once the spool has been replayed, each has exactly one row (the admin API is not in the ledger).
        await WaitForRowsAsync(database, sent, seconds: 120);
        await Task.Delay(TimeSpan.FromSeconds(1), Token);
        Assert.Equal(sent, await postgres.ScalarAsync(database, "SELECT count(*) FROM usage_ledger"));
        Assert.Empty(Directory.EnumerateFiles(spool, "*.jsonl"));
    }

    [Fact]
    public async Task Graceful_shutdown_writes_every_queued_row()
    {
        var database = await servers.Postgres.CreateDatabaseAsync();
        var gateway = await StartGatewayAsync(database, null);
        var (_, key) = await CreateKeyAsync(gateway, "team-shutdown");

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => gateway.Client.SendAsync(WithKey(Chat("m"), key), Token)));
        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
        await gateway.DisposeAsync();

        Assert.Equal(50, await servers.Postgres.ScalarAsync(database, "SELECT count(*) FROM usage_ledger"));
    }

    [Fact]
    public async Task Rows_spooled_at_shutdown_while_PostgreSQL_is_down_are_written_by_the_next_start()
    {
        await using var postgres = await PostgresServer.StartAsync();
        var database = await postgres.CreateDatabaseAsync();
        var first = await StartGatewayAsync(database, null);
        var (_, key) = await CreateKeyAsync(first, "team-spool");
        await SendAsync(first, WithKey(Chat("m"), key), HttpStatusCode.OK);
        await WaitForRowsAsync(database, 1);

        await postgres.StopAsync();
        for (var i = 0; i < 10; i++)
        {
            await SendAsync(first, WithKey(Chat("m"), key), HttpStatusCode.OK);
        }

        await first.DisposeAsync();
        Assert.NotEmpty(Directory.EnumerateFiles(spool, "*.jsonl"));

        await postgres.RestartAsync();
        await using var second = await StartGatewayAsync(database, null);
        await WaitForRowsAsync(database, 11);
        // A replayed file is deleted once its rows are committed, so just after they show.
        await Eventually.HoldsAsync(() => !Directory.EnumerateFiles(spool, "*.jsonl").Any(), "the replayed spool file is deleted");
        Assert.Equal(11, await postgres.ScalarAsync(database, "SELECT count(*) FROM usage_ledger"));
    }

    private Task<GatewayServer> StartGatewayAsync(string database, string? redis) =>
        GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress).Concat(GatewaySettings(database, redis, spool)));

    private static async Task SendAsync(GatewayServer gateway, HttpRequestMessage request, HttpStatusCode expected)
    {
        using var response = await gateway.Client.SendAsync(request, Token);
        Assert.Equal(expected, response.StatusCode);
    }
}
