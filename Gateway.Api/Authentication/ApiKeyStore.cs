using LlmAspire.Storage;
using Npgsql;

namespace LlmAspire.Gateway.Api.Authentication;

/// <summary>The <c>api_keys</c> table.</summary>
internal sealed class ApiKeyStore(GatewayDatabase database, TimeProvider timeProvider)
{
    private const string Columns = "id, name, tenant, secret_hash, requests_per_minute, tokens_per_minute, monthly_token_budget, queue_weight, created_at, revoked_at";

    public async Task<ApiKeyRecord?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"SELECT {Columns} FROM api_keys WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"SELECT {Columns} FROM api_keys ORDER BY created_at, id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKeyRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader));
        }

        return keys;
    }

    public async Task<ApiKeyRecord> InsertAsync(ApiKeyRecord key, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"""
            INSERT INTO api_keys (id, name, tenant, secret_hash, requests_per_minute, tokens_per_minute, monthly_token_budget, queue_weight, created_at)
            VALUES (@id, @name, @tenant, @hash, @rpm, @tpm, @budget, @weight, @created)
            RETURNING {Columns}
            """);
        command.Parameters.AddWithValue("id", key.Id);
        command.Parameters.AddWithValue("name", key.Name);
        command.Parameters.AddWithValue("tenant", key.Tenant);
        command.Parameters.AddWithValue("hash", key.SecretHash);
        command.Parameters.AddWithValue("rpm", (object?)key.RequestsPerMinute ?? DBNull.Value);
        command.Parameters.AddWithValue("tpm", (object?)key.TokensPerMinute ?? DBNull.Value);
        command.Parameters.AddWithValue("budget", (object?)key.MonthlyTokenBudget ?? DBNull.Value);
        command.Parameters.AddWithValue("weight", (object?)key.QueueWeight ?? DBNull.Value);
        command.Parameters.AddWithValue("created", timeProvider.GetUtcNow().UtcDateTime);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return Read(reader);
    }

    /// <summary>Marks a key revoked (idempotent: the first revocation time is kept); null when there is no such key.</summary>
    public async Task<ApiKeyRecord?> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"""
            UPDATE api_keys SET revoked_at = COALESCE(revoked_at, @now) WHERE id = @id RETURNING {Columns}
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow().UtcDateTime);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static ApiKeyRecord Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetFieldValue<byte[]>(3),
        reader.IsDBNull(4) ? null : reader.GetInt32(4),
        reader.IsDBNull(5) ? null : reader.GetInt32(5),
        reader.IsDBNull(6) ? null : reader.GetInt64(6),
        reader.IsDBNull(7) ? null : reader.GetInt32(7),
        reader.GetDateTime(8),
        reader.IsDBNull(9) ? null : reader.GetDateTime(9));
}
