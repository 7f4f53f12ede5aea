using DbUp;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmAspire.Storage;

/// <summary>
/// Applies the versioned schema migrations (<c>Storage/Migrations/*.sql</c>, embedded, in name order; DbUp records
/// each in <c>schemaversions</c>) before the service starts serving. Every service that uses the database runs this
/// same set at start-up, so whichever starts first creates the schema; services and replicas starting together take a
/// PostgreSQL advisory lock so exactly one of them runs a migration.
/// </summary>
internal sealed partial class DatabaseMigrator(
    GatewayDatabase database, IOptions<StorageOptions> options, TimeProvider timeProvider, ILogger<DatabaseMigrator> logger) : IHostedService
{
    // Arbitrary but fixed: every service and replica must use the same lock id.
    private const long MigrationLockId = 0x4C4C_4D41_5350_4952;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!database.IsConfigured)
        {
            return;
        }

        var deadline = timeProvider.GetTimestamp() + (long)(options.Value.MigrationTimeout.TotalSeconds * timeProvider.TimestampFrequency);
        while (true)
        {
            try
            {
                await MigrateAsync(cancellationToken);
                return;
            }
            catch (Exception exception) when (GatewayDatabase.IsUnavailable(exception) && timeProvider.GetTimestamp() < deadline)
            {
                LogWaiting(logger, exception.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), timeProvider, cancellationToken);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock(@id)", connection))
        {
            lockCommand.Parameters.AddWithValue("id", MigrationLockId);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            var upgrader = DeployChanges.To.PostgresqlDatabase(database.ConnectionString)
                .WithScriptsEmbeddedInAssembly(typeof(DatabaseMigrator).Assembly, name => name.Contains(".Storage.Migrations.", StringComparison.Ordinal))
                .WithTransactionPerScript()
                .LogToNowhere()
                .Build();
            // DbUp is synchronous; keep it off the start-up thread's synchronization context.
            var result = await Task.Run(upgrader.PerformUpgrade, cancellationToken);
            if (!result.Successful)
            {
                throw new InvalidOperationException($"Database migration {result.ErrorScript?.Name} failed: {result.Error.Message}", result.Error);
            }

            foreach (var script in result.Scripts)
            {
                LogApplied(logger, script.Name);
            }
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@id)", connection);
            unlock.Parameters.AddWithValue("id", MigrationLockId);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waiting for PostgreSQL to apply migrations: {Reason}")]
    private static partial void LogWaiting(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied database migration {Script}")]
    private static partial void LogApplied(ILogger logger, string script);
}
