using Microsoft.Extensions.Configuration;
using Npgsql;

namespace LlmAspire.Storage;

/// <summary>
/// The platform's PostgreSQL database, named <c>gatewaydb</c> after the Aspire resource
/// (<c>ConnectionStrings:gatewaydb</c>): API keys and the usage ledger (Gateway.Api), model lifecycle events
/// (ModelManager). The data source is the one Aspire's Npgsql client integration registers. Absent configuration
/// means no database; each service says what it does without one.
/// </summary>
public sealed class GatewayDatabase(IConfiguration configuration, NpgsqlDataSource? dataSource = null)
{
    public const string ConnectionStringName = "gatewaydb";

    /// <summary>The name of Aspire's PostgreSQL health check, kept for the one registered in its place.</summary>
    public const string HealthCheckName = "PostgreSql";

    public string? ConnectionString { get; } = configuration.GetConnectionString(ConnectionStringName);

    public bool IsConfigured => dataSource is not null;

    /// <summary>Whether <paramref name="configuration"/> names a database: services register what needs one only then.</summary>
    public static bool IsConfiguredIn(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration.GetConnectionString(ConnectionStringName));

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
}
