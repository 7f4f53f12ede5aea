namespace LlmAspire.Gateway.Storage;

public static class StorageExtensions
{
    /// <summary>Registers the PostgreSQL database and the start-up migrations (both inert without <c>ConnectionStrings:gatewaydb</c>).</summary>
    public static IHostApplicationBuilder AddGatewayStorage(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<StorageOptions>(StorageOptions.SectionName);
        builder.Services.AddSingleton<GatewayDatabase>();
        builder.Services.AddHostedService<DatabaseMigrator>();
        return builder;
    }
}
