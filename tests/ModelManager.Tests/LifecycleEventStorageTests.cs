using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Lifecycle;
using LlmAspire.ModelManager.Tests.Infrastructure;
using LlmAspire.Storage;
using LlmAspire.TestToolkit.Servers;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// Lifecycle events in PostgreSQL (<c>model_lifecycle_events</c>): ModelManager running the simulator as a process,
/// against a private PostgreSQL that the tests stop and start again.
/// </summary>
public sealed class LifecycleEventStorageTests : IAsyncLifetime
{
    private static readonly string WriterCategory = typeof(LifecycleEventWriter).FullName!;
    private readonly DirectoryInfo stateDirectory = Directory.CreateTempSubdirectory("llmaspire-mm-events-");
    private readonly DirectoryInfo spoolDirectory = Directory.CreateTempSubdirectory("llmaspire-mm-event-spool-");
    private readonly string name = $"test-{Guid.NewGuid():N}"[..16];
    private readonly List<ModelManagerHost> hosts = [];
    private readonly LogCollector writerLogs = new(WriterCategory);
    private PostgresServer postgres = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => postgres = await PostgresServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        await LeftoverServers.EndAndDeleteAsync(stateDirectory);
        spoolDirectory.Delete(recursive: true);
        await postgres.DisposeAsync();
    }

    /// <summary>ModelManager on <paramref name="database"/>, retrying failed writes quickly, with the writer's log collected.</summary>
    private async Task<ModelManagerHost> StartAsync(string database, params IEnumerable<KeyValuePair<string, string>>[] settings)
    {
        var host = await ModelManagerHost.StartAsync(
            [
                new("ConnectionStrings:gatewaydb", database),
                new($"Logging:LogLevel:{WriterCategory}", "Information"),
                TestCatalog.Setting("Name", name),
                TestCatalog.Setting("Process:StateDirectory", stateDirectory.FullName),
                TestCatalog.Setting("LifecycleEvents:FlushInterval", "00:00:00.050"),
                TestCatalog.Setting("LifecycleEvents:RetryInterval", "00:00:00.100"),
                TestCatalog.Setting("LifecycleEvents:MaxRetryInterval", "00:00:00.500"),
                TestCatalog.Setting("LifecycleEvents:SpoolDirectory", spoolDirectory.FullName),
                .. settings.SelectMany(setting => setting),
            ],
            services => services.AddSingleton<ILoggerProvider>(writerLogs));
        hosts.Add(host);
        return host;
    }

    [Fact]
    public async Task A_model_started_and_stopped_leaves_its_events_in_PostgreSQL_as_they_happened_with_durations()
    {
        var database = await postgres.CreateDatabaseAsync();
        var host = await StartAsync(database, TestCatalog.SimulatorProcess("sim"));

        var ensured = await host.EnsureAsync("sim");
        await StopModelAsync(host, "sim");

        var rows = await WaitForRowsAsync(database, "sim", count: 4);
        Assert.Equal(["starting", "ready", "stopping", "stopped"], rows.Select(row => row.Event));
        AssertStoredAsRecorded(await RecordedEventsAsync(host, "sim"), rows);
        Assert.All(rows, row => Assert.Equal("process", row.Runtime));
        Assert.All(rows[1..], row => Assert.Equal((string?)ensured["instance"], row.Instance));
        Assert.Equal((string?)ensured["endpoint"], rows[1].Endpoint);
        Assert.NotNull(rows[0].DurationMs);
        Assert.True(rows[1].DurationMs > 0, "ready: time from launch to ready");
        Assert.Null(rows[2].DurationMs);
        Assert.True(rows[3].DurationMs > 0, "stopped: time the stop took");
        Assert.Equal(0, await postgres.ScalarAsync(database, "SELECT count(*) - count(DISTINCT event_id) FROM model_lifecycle_events"));
    }

    [Fact]
    public async Task Models_stopped_at_shutdown_have_their_events_stored_before_ModelManager_exits()
    {
        var database = await postgres.CreateDatabaseAsync();
        var host = await StartAsync(database, [TestCatalog.Setting("StopModelsOnShutdown", "true"), .. TestCatalog.SimulatorProcess("sim")]);
        await host.EnsureAsync("sim");

        hosts.Remove(host);
        await host.DisposeAsync();

        Assert.Equal(["starting", "ready", "stopping", "stopped"], (await ReadRowsAsync(database, "sim")).Select(row => row.Event));
    }

    [Fact]
    public async Task Events_recorded_while_PostgreSQL_is_down_are_written_once_it_is_back_none_lost_none_twice()
    {
        var database = await postgres.CreateDatabaseAsync();
        var host = await StartAsync(database, TestCatalog.SimulatorProcess("sim"));
        await host.EnsureAsync("sim");
        await WaitForRowsAsync(database, "sim", count: 2);

        await postgres.StopAsync();
        await StopModelAsync(host, "sim");
        await host.EnsureAsync("sim");
        Assert.Equal(["starting", "ready", "stopping", "stopped", "starting", "ready"], await host.EventsAsync("sim"));
        await Eventually.HoldsAsync(() => writerLogs.Contains("cannot be written to PostgreSQL"), "the writer failed to write and keeps the events");
        await Eventually.HoldsAsync(() => SpooledEvents() == 4, "the four events of the outage are in the spool on disk");

        await postgres.RestartAsync();

        var rows = await WaitForRowsAsync(database, "sim", count: 6);
        AssertStoredAsRecorded(await RecordedEventsAsync(host, "sim"), rows);
        Assert.Equal(0, await postgres.ScalarAsync(database, "SELECT count(*) - count(DISTINCT event_id) FROM model_lifecycle_events"));
        await Eventually.HoldsAsync(() => writerLogs.Contains("written to PostgreSQL again"), "the writer says it writes again");
        await Eventually.HoldsAsync(() => SpooledEvents() == 0, "the spool is empty once written");
    }

    [Fact]
    public async Task Events_of_a_ModelManager_shut_down_while_PostgreSQL_is_down_are_spooled_and_written_in_order_by_the_next_one()
    {
        var database = await postgres.CreateDatabaseAsync();
        var host = await StartAsync(database, [TestCatalog.Setting("StopModelsOnShutdown", "true"), .. TestCatalog.SimulatorProcess("sim")]);
        await host.EnsureAsync("sim");
        await WaitForRowsAsync(database, "sim", count: 2);
        await postgres.StopAsync();

        hosts.Remove(host);
        await host.DisposeAsync();
        Assert.Equal(2, SpooledEvents());
        Assert.Contains(writerLogs.Messages, message => message.Contains("stops with", StringComparison.Ordinal));

        await postgres.RestartAsync();
        await StartAsync(database);

        var rows = await WaitForRowsAsync(database, "sim", count: 4);
        Assert.Equal(["starting", "ready", "stopping", "stopped"], rows.Select(row => row.Event));
        Assert.Equal(rows.Select(row => row.OccurredAt).Order(), rows.Select(row => row.OccurredAt));
        await Eventually.HoldsAsync(() => SpooledEvents() == 0, "the spool is empty once written");
        Assert.Equal(0, await postgres.ScalarAsync(database, "SELECT count(*) - count(DISTINCT event_id) FROM model_lifecycle_events"));
    }

    [Fact]
    public async Task Writing_the_same_events_again_stores_each_once()
    {
        var database = await postgres.CreateDatabaseAsync();
        var host = await StartAsync(database);
        var store = host.Services.GetRequiredService<LifecycleEventStore>();
        var rows = Enumerable.Range(1, 3)
            .Select(i => new LifecycleEventRow(Guid.CreateVersion7(), new LifecycleEvent(DateTimeOffset.UtcNow, "direct", LifecycleEventKind.Starting, "process", Instance: $"{i}")))
            .ToList();

        await store.InsertAsync(rows, Cancellation);
        await store.InsertAsync(rows, Cancellation);
        await store.InsertAsync([rows[2], rows[0] with { EventId = Guid.CreateVersion7() }], Cancellation);

        Assert.Equal(4, await postgres.ScalarAsync(database, "SELECT count(*) FROM model_lifecycle_events WHERE model = 'direct'"));
    }

    [Fact]
    public async Task With_PostgreSQL_down_events_beyond_the_queue_go_to_the_spool_and_all_are_written_in_order_once_it_is_back()
    {
        var database = await postgres.CreateDatabaseAsync();
        var host = await StartAsync(database, [TestCatalog.Setting("LifecycleEvents:MaxBufferedEvents", "3"), TestCatalog.Setting("LifecycleEvents:BatchSize", "2")]);
        var sink = host.Services.GetRequiredService<ILifecycleEventSink>();
        await postgres.StopAsync();

        var start = DateTimeOffset.UtcNow;
        var recorded = Enumerable.Range(1, 10)
            .Select(i => new LifecycleEvent(start.AddMilliseconds(i), "bounded", LifecycleEventKind.Ready, "process", Instance: i.ToString(CultureInfo.InvariantCulture)))
            .ToList();
        recorded.ForEach(sink.Record);
        await Eventually.HoldsAsync(() => SpooledEvents() == recorded.Count, "every event is in the spool");
        await postgres.RestartAsync();

        var stored = (await WaitForRowsAsync(database, "bounded", count: recorded.Count))
            .Select(row => int.Parse(row.Instance!, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, 10), stored);
        Assert.Equal(recorded.Count, (await RecordedEventsAsync(host, "bounded")).Count);
        Assert.DoesNotContain(writerLogs.Messages, message => message.Contains("were not stored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModelManagers_starting_together_on_an_empty_database_migrate_it_each_migration_once()
    {
        var database = await postgres.CreateDatabaseAsync();

        await Task.WhenAll(StartAsync(database), StartAsync(database));

        var migrations = typeof(GatewayDatabase).Assembly.GetManifestResourceNames().Count(resource => resource.EndsWith(".sql", StringComparison.Ordinal));
        Assert.Equal(migrations, await postgres.ScalarAsync(database, "SELECT count(*) FROM schemaversions"));
        Assert.Equal(migrations, await postgres.ScalarAsync(database, "SELECT count(DISTINCT scriptname) FROM schemaversions"));
        Assert.Equal(3, await postgres.ScalarAsync(database,
            "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('api_keys', 'usage_ledger', 'model_lifecycle_events')"));
        Assert.Equal(1, await postgres.ScalarAsync(database,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'model_lifecycle_events' AND column_name = 'event_id'"));
    }

    /// <summary>Events in the spool's files, read as the writer reads them.</summary>
    private int SpooledEvents() => spoolDirectory.EnumerateFiles("*.jsonl").Sum(file => DiskSpool<LifecycleEventRow>.Read(file.FullName).Count);

    private sealed record StoredEvent(Guid EventId, DateTimeOffset OccurredAt, string Event, string Runtime, string? Instance, string? Endpoint, double? DurationMs);

    private static async Task StopModelAsync(ModelManagerHost host, string model)
    {
        using var response = await host.Client.PostAsync($"/api/models/{model}/stop", null, Cancellation);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>What <c>/api/events</c> holds for the model: the events as ModelManager recorded them.</summary>
    private static async Task<List<JsonNode>> RecordedEventsAsync(ModelManagerHost host, string model)
    {
        var events = JsonNode.Parse(await host.Client.GetStringAsync($"/api/events?model={model}&limit=1000", Cancellation))!;
        return [.. events["events"]!.AsArray().Select(e => e!)];
    }

    /// <summary>Each stored row is the recorded event: same kind, same moment (PostgreSQL keeps microseconds), same duration.</summary>
    private static void AssertStoredAsRecorded(List<JsonNode> recorded, List<StoredEvent> stored)
    {
        Assert.Equal(recorded.Count, stored.Count);
        foreach (var (expected, row) in recorded.Zip(stored))
        {
            Assert.Equal((string?)expected["event"], row.Event);
            Assert.InRange((DateTimeOffset.Parse((string)expected["occurredAt"]!, CultureInfo.InvariantCulture) - row.OccurredAt).Duration(), TimeSpan.Zero, TimeSpan.FromMicroseconds(1));
            Assert.Equal((double?)expected["durationMs"], row.DurationMs);
        }
    }

    private static async Task<List<StoredEvent>> WaitForRowsAsync(string database, string model, int count)
    {
        List<StoredEvent> rows = [];
        await Eventually.HoldsAsync(async () => (rows = await ReadRowsAsync(database, model)).Count >= count, $"{count} events of {model} are stored");
        return rows;
    }

    private static async Task<List<StoredEvent>> ReadRowsAsync(string database, string model)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Cancellation);
        await using var command = new NpgsqlCommand(
            "SELECT event_id, occurred_at, event, runtime, instance, endpoint, duration_ms FROM model_lifecycle_events WHERE model = @model ORDER BY id",
            connection);
        command.Parameters.AddWithValue("model", model);
        await using var reader = await command.ExecuteReaderAsync(Cancellation);
        var rows = new List<StoredEvent>();
        while (await reader.ReadAsync(Cancellation))
        {
            rows.Add(new StoredEvent(
                reader.GetGuid(0),
                reader.GetFieldValue<DateTimeOffset>(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetDouble(6)));
        }

        return rows;
    }
}
