using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace LlmAspire.Storage;

public static class StorageExtensions
{
    /// <summary>
    /// Registers the PostgreSQL database and the start-up migrations (both inert without <c>ConnectionStrings:gatewaydb</c>),
    /// with <see cref="StorageOptions"/> bound from the service's own <paramref name="optionsSection"/>. With the
    /// connection string, the data source is Aspire's Npgsql client (settings under <c>Aspire:Npgsql</c>) and its health
    /// check reports an outage as Degraded: the services keep working without the database (spool, cached keys, events
    /// in memory). Call it before registering hosted services that use the database: hosted services start in
    /// registration order.
    /// </summary>
    public static IHostApplicationBuilder AddPostgresStorage(this IHostApplicationBuilder builder, string optionsSection)
    {
        builder.Services.AddValidatedOptions<StorageOptions>(optionsSection);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<GatewayDatabase>();
        builder.Services.AddHostedService<DatabaseMigrator>();
        if (!GatewayDatabase.IsConfiguredIn(builder.Configuration))
        {
            return builder;
        }

        var healthCheck = true;
        builder.AddNpgsqlDataSource(GatewayDatabase.ConnectionStringName, settings =>
        {
            healthCheck = !settings.DisableHealthChecks;
            settings.DisableHealthChecks = true;
            var exported = builder.ExportsTelemetry();
            settings.DisableTracing |= !exported;
            settings.DisableMetrics |= !exported;
        });
        if (healthCheck)
        {
            builder.Services.AddHealthChecks().AddNpgSql(
                services => services.GetRequiredService<Npgsql.NpgsqlDataSource>(),
                name: GatewayDatabase.HealthCheckName, failureStatus: HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(5));
        }

        return builder;
    }
}
