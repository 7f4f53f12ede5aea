using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers;
using LlmAspire.TestToolkit.Servers.Processes;
using static LlmAspire.Gateway.Tests.Infrastructure.LedgerTable;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// SIGTERM to a real gateway process with streams that need minutes: they get the grace period, then an error event
/// and [DONE] (never a reset connection), the process exits by itself, and every one of them has its ledger row,
/// in PostgreSQL or, when it is down, in the spool.
/// </summary>
public sealed class ShutdownTests(StorageServers servers) : IAsyncLifetime
{
    private const int Streams = 3;

    // Guards, not measures: the grace period is two seconds, the host's default shutdown timeout thirty.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    // 2,000 tokens at 20 a second: each stream would need well over a minute.
    public async ValueTask InitializeAsync() => simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "2000", "--tokens-per-second", "20");

    public async ValueTask DisposeAsync()
    {
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task Streams_still_running_at_the_end_of_the_grace_period_end_with_an_error_event_and_their_rows_are_written()
    {
        var database = await servers.Postgres.CreateDatabaseAsync();
        await using var gateway = await GatewayProcess.StartAsync(Settings(database));
        var (id, key) = await CreateKeyAsync(gateway.Client, "team-sigterm");

        var delivered = await TerminateDuringStreamsAsync(gateway, key);

        await WaitForRowsAsync(database, Streams);
        var rows = await RowsAsync(database);
        Assert.All(rows, row => Assert.Equal((id, 503), (row.KeyId, row.Status)));
        Assert.Equal(delivered.Order(), rows.Select(row => row.CompletionTokens).Order());
    }

    [Fact]
    public async Task With_PostgreSQL_down_the_rows_of_streams_ended_by_the_shutdown_are_spooled()
    {
        await using var postgres = await PostgresServer.StartAsync();
        var database = await postgres.CreateDatabaseAsync();
        await using var gateway = await GatewayProcess.StartAsync(Settings(database));
        var (_, key) = await CreateKeyAsync(gateway.Client, "team-sigterm-spool");
        // The key is looked up (and its row written) while PostgreSQL is there; then it keeps working from memory.
        using (var first = await gateway.Client.SendAsync(WithKey(Chat("m", extra: new { max_tokens = 1 }), key), Token))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        await WaitForRowsAsync(database, 1);
        await postgres.StopAsync();

        await TerminateDuringStreamsAsync(gateway, key);

        var spooled = Directory.EnumerateFiles(spool, "*.jsonl").SelectMany(File.ReadLines).Where(line => line.Length > 0).ToList();
        Assert.Equal(Streams, spooled.Count);
        Assert.All(spooled, line => Assert.Equal(503, (int)JsonNode.Parse(line)!["status"]!));
    }

    /// <summary>Opens the streams, sends SIGTERM once each has delivered text, and returns how many tokens each delivered.</summary>
    private static async Task<long[]> TerminateDuringStreamsAsync(GatewayProcess gateway, string key)
    {
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(Token);
        guard.CancelAfter(Guard);
        var started = Enumerable.Range(0, Streams).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var streams = started.Select(async signal =>
        {
            using var response = await gateway.Client.SendAsync(WithKey(Chat("m", stream: true), key), HttpCompletionOption.ResponseHeadersRead, guard.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var events = new List<string>();
            await foreach (var data in EventsAsync(response, guard.Token))
            {
                events.Add(data);
                if (events.Count == 5)
                {
                    signal.SetResult();
                }
            }

            return events;
        }).ToArray();

        await Task.WhenAll(started.Select(signal => signal.Task)).WaitAsync(guard.Token);
        gateway.Signal(Signals.SigTerm);

        // Reading each to its end without an exception is the point: the streams are ended, not cut.
        var ended = await Task.WhenAll(streams);
        await gateway.WaitForExitAsync(Guard);
        Assert.True(gateway.ExitCode == 0, gateway.Output);
        foreach (var events in ended)
        {
            Assert.Equal("shutting_down", (string?)JsonNode.Parse(events[^2])!["error"]!["code"]);
            Assert.Equal("[DONE]", events[^1]);
        }

        return [.. ended.Select(events => (long)Content(events[..^2]).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length)];
    }

    private IEnumerable<KeyValuePair<string, string>> Settings(string database) =>
        GatewayServer.ModelSettings("m", simulator.BaseAddress)
            .Concat(GatewaySettings(database, null, spool))
            .Append(KeyValuePair.Create("Gateway:ShutdownGracePeriod", "00:00:02"))
            .Append(KeyValuePair.Create("Logging:LogLevel:Default", "Warning"));
}
