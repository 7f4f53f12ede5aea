using Npgsql;

namespace LlmAspire.Gateway.Storage;

/// <summary>
/// The gateway's PostgreSQL database (<c>ConnectionStrings:gatewaydb</c>): API keys, the usage ledger and the model
/// lifecycle events. Absent configuration means no database: API keys and the ledger are then unavailable, which is
/// only allowed with authentication explicitly turned off.
/// </summary>
public sealed class GatewayDatabase : IAsyncDisposable
{
    public const string ConnectionStringName = "gatewaydb";

    private readonly NpgsqlDataSource? dataSource;

    public GatewayDatabase(IConfiguration configuration)
    {
        ConnectionString = configuration.GetConnectionString(ConnectionStringName);
        if (IsConfigured)
        {
            dataSource = NpgsqlDataSource.Create(ConnectionString!);
        }
    }

    public string? ConnectionString { get; }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(ConnectionString);

    /// <summary>The pooled data source; only call when <see cref="IsConfigured"/>.</summary>
    public NpgsqlDataSource DataSource => dataSource ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionStringName} is not configured.");

    /// <summary>
    /// True for failures that mean "the database cannot be reached right now" (refused, reset, timed out, shutting
    /// down) as opposed to a bug in a statement: callers fall back (spool, cached keys) only for these.
    /// </summary>
    public static bool IsUnavailable(Exception exception) => exception switch
    {
        NpgsqlException { IsTransient: true } => true,
        PostgresException postgres => postgres.SqlState is "57P01" or "57P02" or "57P03" or "08000" or "08003" or "08006" or "53300",
        NpgsqlException { InnerException: System.Net.Sockets.SocketException or IOException or TimeoutException } => true,
        TimeoutException or System.Net.Sockets.SocketException => true,
        _ => false,
    };

    public async ValueTask DisposeAsync()
    {
        if (dataSource is not null)
        {
            await dataSource.DisposeAsync();
        }
    }
}
