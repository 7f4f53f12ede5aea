using LlmAspire.Storage;
using Npgsql;
using NpgsqlTypes;

namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>The <c>usage_ledger</c> table.</summary>
internal sealed class LedgerStore(GatewayDatabase database)
{
    /// <summary>
    /// Inserts a batch in one statement (one array per column, unnested); rows already present (a replayed spool
    /// segment) are skipped, so every request is stored exactly once however often its row is written. Text is made
    /// storable here, at the one place rows enter the table, so rows spooled before that rule existed are also taken.
    /// </summary>
    public async Task InsertAsync(IReadOnlyList<UsageEntry> batch, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand("""
            INSERT INTO usage_ledger (request_id, occurred_at, key_id, tenant, model, operation, prompt_tokens, completion_tokens,
                                      cached, status, latency_ms, time_to_first_token_ms)
            SELECT * FROM unnest(@request_id, @occurred_at, @key_id, @tenant, @model, @operation, @prompt_tokens, @completion_tokens,
                                 @cached, @status, @latency_ms, @ttft_ms)
            ON CONFLICT (request_id) DO NOTHING
            """);
        var parameters = command.Parameters;
        parameters.AddWithValue("request_id", NpgsqlDbType.Array | NpgsqlDbType.Uuid, batch.Select(e => e.RequestId).ToArray());
        parameters.AddWithValue("occurred_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, batch.Select(e => DateTime.SpecifyKind(e.OccurredAt, DateTimeKind.Utc)).ToArray());
        parameters.AddWithValue("key_id", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(e => PostgresText.Storable(e.KeyId)).ToArray());
        parameters.AddWithValue("tenant", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(e => PostgresText.Storable(e.Tenant)).ToArray());
        parameters.AddWithValue("model", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(e => PostgresText.Storable(e.Model)).ToArray());
        parameters.AddWithValue("operation", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(e => PostgresText.Storable(e.Operation)).ToArray());
        parameters.AddWithValue("prompt_tokens", NpgsqlDbType.Array | NpgsqlDbType.Bigint, batch.Select(e => e.PromptTokens).ToArray());
        parameters.AddWithValue("completion_tokens", NpgsqlDbType.Array | NpgsqlDbType.Bigint, batch.Select(e => e.CompletionTokens).ToArray());
        parameters.AddWithValue("cached", NpgsqlDbType.Array | NpgsqlDbType.Boolean, batch.Select(e => e.Cached).ToArray());
        parameters.AddWithValue("status", NpgsqlDbType.Array | NpgsqlDbType.Integer, batch.Select(e => e.Status).ToArray());
        parameters.AddWithValue("latency_ms", NpgsqlDbType.Array | NpgsqlDbType.Double, batch.Select(e => e.LatencyMs).ToArray());
        parameters.AddWithValue("ttft_ms", NpgsqlDbType.Array | NpgsqlDbType.Double, batch.Select(e => e.TimeToFirstTokenMs).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// True when PostgreSQL refused rows for what they hold (a data exception, class 22, or a constraint, class 23)
    /// rather than for being unreachable: writing them again cannot succeed, but the other rows of their batch can.
    /// </summary>
    public static bool IsRowError(Exception exception) =>
        exception is PostgresException { SqlState: ['2', '2' or '3', ..] };

    /// <summary>Totals per UTC day, key and model for <c>[from, to)</c>, optionally for one key or one model.</summary>
    public async Task<IReadOnlyList<UsageTotals>> AggregateAsync(DateTime from, DateTime to, string? keyId, string? model, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand("""
            SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, key_id, tenant, model,
                   count(*), count(*) FILTER (WHERE cached), count(*) FILTER (WHERE status >= 400),
                   sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint
            FROM usage_ledger
            WHERE occurred_at >= @from AND occurred_at < @to
              AND (@key_id::text IS NULL OR key_id = @key_id) AND (@model::text IS NULL OR model = @model)
            GROUP BY 1, 2, 3, 4
            ORDER BY 1, 2, 4
            """);
        command.Parameters.AddWithValue("from", NpgsqlDbType.TimestampTz, from);
        command.Parameters.AddWithValue("to", NpgsqlDbType.TimestampTz, to);
        command.Parameters.AddWithValue("key_id", NpgsqlDbType.Text, (object?)PostgresText.Storable(keyId) ?? DBNull.Value);
        command.Parameters.AddWithValue("model", NpgsqlDbType.Text, (object?)PostgresText.Storable(model) ?? DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var totals = new List<UsageTotals>();
        while (await reader.ReadAsync(cancellationToken))
        {
            totals.Add(new UsageTotals(
                DateOnly.FromDateTime(reader.GetDateTime(0)),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.GetInt64(4),
                reader.GetInt64(5),
                reader.GetInt64(6),
                reader.GetInt64(7),
                reader.GetInt64(8)));
        }

        return totals;
    }
}

/// <summary>One line of <c>/admin/usage</c>.</summary>
internal sealed record UsageTotals(DateOnly Day, string? KeyId, string Tenant, string Model, long Requests, long CachedRequests,
    long FailedRequests, long PromptTokens, long CompletionTokens);
