using LlmAspire.ModelManager.Client;
using LlmAspire.Storage;
using NpgsqlTypes;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>A lifecycle event with the id it is stored under, given once, before its first write.</summary>
internal sealed record LifecycleEventRow(Guid EventId, LifecycleEvent Event);

/// <summary>The <c>model_lifecycle_events</c> table (docs/storage.md).</summary>
internal sealed class LifecycleEventStore(GatewayDatabase database)
{
    /// <summary>
    /// Inserts a batch in one statement (one array per column, unnested, in order); events already stored (a batch
    /// written again after a failure that may have come after the commit) are skipped, so each is stored once. Text
    /// (a server's last output in <c>detail</c>) is made storable first: the batch is retried until it is written.
    /// </summary>
    public async Task InsertAsync(IReadOnlyList<LifecycleEventRow> batch, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand("""
            INSERT INTO model_lifecycle_events (event_id, occurred_at, model, event, runtime, instance, endpoint, duration_ms, detail)
            SELECT * FROM unnest(@event_id, @occurred_at, @model, @event, @runtime, @instance, @endpoint, @duration_ms, @detail)
            ON CONFLICT (event_id) DO NOTHING
            """);
        var parameters = command.Parameters;
        parameters.AddWithValue("event_id", NpgsqlDbType.Array | NpgsqlDbType.Uuid, batch.Select(r => r.EventId).ToArray());
        parameters.AddWithValue("occurred_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, batch.Select(r => r.Event.OccurredAt.UtcDateTime).ToArray());
        parameters.AddWithValue("model", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(r => PostgresText.Storable(r.Event.Model)).ToArray());
        parameters.AddWithValue("event", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(r => PostgresText.Storable(r.Event.Event)).ToArray());
        parameters.AddWithValue("runtime", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(r => PostgresText.Storable(r.Event.Runtime)).ToArray());
        parameters.AddWithValue("instance", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(r => PostgresText.Storable(r.Event.Instance)).ToArray());
        parameters.AddWithValue("endpoint", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(r => PostgresText.Storable(r.Event.Endpoint?.ToString())).ToArray());
        parameters.AddWithValue("duration_ms", NpgsqlDbType.Array | NpgsqlDbType.Double, batch.Select(r => r.Event.DurationMs).ToArray());
        parameters.AddWithValue("detail", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(r => PostgresText.Storable(r.Event.Detail)).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
