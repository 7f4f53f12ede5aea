using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace LlmAspire.Storage;

public static class StorageExtensions
{
    /// <summary>
    /// Registers the PostgreSQL database and the start-up migrations (both inert without <c>ConnectionStrings:gatewaydb</c>),
    /// with <see cref="StorageOptions"/> bound from the service's own <paramref name="optionsSection"/>. Call it before
    /// registering hosted services that use the database: hosted services start in registration order.
    /// </summary>
    public static IHostApplicationBuilder AddPostgresStorage(this IHostApplicationBuilder builder, string optionsSection)
    {
        builder.Services.AddValidatedOptions<StorageOptions>(optionsSection);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<GatewayDatabase>();
        builder.Services.AddHostedService<DatabaseMigrator>();
        return builder;
    }
}
