using System.Net;
using LlmAspire.Gateway.Api.Ledger;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.Storage;
using LlmAspire.TestToolkit.Servers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using static LlmAspire.Gateway.Tests.Infrastructure.LedgerTable;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// No row can stop the ledger for everyone: text PostgreSQL cannot store is made storable, and a row PostgreSQL still
/// refuses is quarantined while the rest of its batch (or spool segment) is written.
/// </summary>
public sealed class LedgerHardeningTests(StorageServers servers) : IAsyncLifetime
{
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private string Quarantine => Path.Combine(spool, DiskSpool<UsageEntry>.QuarantineDirectory);

    public async ValueTask InitializeAsync() => simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "3");

    public async ValueTask DisposeAsync()
    {
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task A_model_name_with_a_NUL_is_stored_with_a_replacement_and_rows_after_it_are_written()
    {
        var database = await servers.Postgres.CreateDatabaseAsync();
        await using var gateway = await StartGatewayAsync(database);
        var (_, key) = await CreateKeyAsync(gateway, "team-nul");

        await SendAsync(gateway, WithKey(Post("/v1/chat/completions", """{"model":"x\u0000","messages":[]}"""), key), HttpStatusCode.NotFound);
        await SendAsync(gateway, WithKey(Chat("m"), key), HttpStatusCode.OK);

        await WaitForRowsAsync(database, 2);
        Assert.Equal(["x\uFFFD", "m"], (await RowsAsync(database)).Select(row => row.Model));
        Assert.Empty(Directory.EnumerateFiles(spool, "*.jsonl"));
    }

    [Fact]
    public async Task A_row_PostgreSQL_refuses_is_quarantined_and_the_rest_of_its_batch_and_of_its_spool_segment_are_written()
    {
        await using var postgres = await PostgresServer.StartAsync();
        var database = await postgres.CreateDatabaseAsync();
        await using var gateway = await StartGatewayAsync(database);
        using var metrics = new MetricRecorder(gateway.Services, "llmaspire.ledger.rows.quarantined");
        // A rule the gateway does not know about stands for any row PostgreSQL will not take, whatever the reason.
        await postgres.ScalarAsync(database, "ALTER TABLE usage_ledger ADD CONSTRAINT no_poison CHECK (model <> 'poison'); SELECT 0");
        var (_, key) = await CreateKeyAsync(gateway, "team-poison");

        // One batch: the refused row goes to quarantine, its neighbours to the table.
        await Task.WhenAll(
            SendAsync(gateway, WithKey(Chat("m"), key), HttpStatusCode.OK),
            SendAsync(gateway, WithKey(Chat("poison"), key), HttpStatusCode.NotFound),
            SendAsync(gateway, WithKey(Chat("m"), key), HttpStatusCode.OK));
        await WaitForRowsAsync(database, 2);
        await Eventually.HoldsAsync(() => Directory.EnumerateFiles(Quarantine, "*.json").Count() == 1, "one row is quarantined");

        // A spool segment written while PostgreSQL was down: replayed past the refused row, not stuck on it.
        await postgres.StopAsync();
        await SendAsync(gateway, WithKey(Chat("poison"), key), HttpStatusCode.NotFound);
        await SendAsync(gateway, WithKey(Chat("m"), key), HttpStatusCode.OK);
        await Eventually.HoldsAsync(() => Directory.EnumerateFiles(spool, "*.jsonl").Any(), "rows are spooled");
        Assert.Equal(HealthStatus.Degraded, await LedgerHealthAsync(gateway));
        await postgres.RestartAsync();

        await WaitForRowsAsync(database, 3);
        await Eventually.HoldsAsync(() => !Directory.EnumerateFiles(spool, "*.jsonl").Any(), "the spool is replayed");
        Assert.Equal(2, Directory.EnumerateFiles(Quarantine, "*.json").Count());
        Assert.Equal(2, metrics.Sum("llmaspire.ledger.rows.quarantined"));
        Assert.All(Directory.EnumerateFiles(Quarantine, "*.json"), file => Assert.Contains("no_poison", File.ReadAllText(file), StringComparison.Ordinal));
        Assert.Equal(HealthStatus.Healthy, await LedgerHealthAsync(gateway));
    }

    /// <summary>The ledger's own entry of <c>/health</c> (other checks there may be unhealthy while PostgreSQL is down).</summary>
    private static async Task<HealthStatus> LedgerHealthAsync(GatewayServer gateway) =>
        (await gateway.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(check => check.Name == "ledger", Token)).Status;

    private Task<GatewayServer> StartGatewayAsync(string database) =>
        GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress).Concat(GatewaySettings(database, null, spool)));

    private static async Task SendAsync(GatewayServer gateway, HttpRequestMessage request, HttpStatusCode expected)
    {
        using var response = await gateway.Client.SendAsync(request, Token);
        Assert.Equal(expected, response.StatusCode);
    }
}
