using Npgsql;

namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>Reads the <c>usage_ledger</c> table of a test database.</summary>
public static class LedgerTable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static async Task WaitForRowsAsync(string database, long expected, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        long count;
        while ((count = await CountAsync(database)) < expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"The ledger has {count} rows; {expected} expected.");
            await Task.Delay(100, Token);
        }

        Assert.Equal(expected, count);
    }

    public static async Task<long> CountAsync(string database)
    {
        try
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync(Token);
            await using var command = new NpgsqlCommand("SELECT count(*) FROM usage_ledger", connection);
            return (long)(await command.ExecuteScalarAsync(Token))!;
        }
        catch (NpgsqlException)
        {
            return -1;
        }
    }

    public static async Task<List<LedgerRow>> RowsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand(
            "SELECT key_id, tenant, model, prompt_tokens, completion_tokens, cached, status, time_to_first_token_ms FROM usage_ledger ORDER BY occurred_at, request_id",
            connection);
        await using var reader = await command.ExecuteReaderAsync(Token);
        var rows = new List<LedgerRow>();
        while (await reader.ReadAsync(Token))
        {
            rows.Add(new LedgerRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetBoolean(5),
                reader.GetInt32(6), reader.IsDBNull(7) ? null : reader.GetDouble(7)));
        }

        return rows;
    }
}

public sealed record LedgerRow(string KeyId, string Tenant, string Model, long PromptTokens, long CompletionTokens, bool Cached, int Status, double? TimeToFirstTokenMs);
