namespace LlmAspire.Gateway.Api.Ledger;

internal static class LedgerExtensions
{
    /// <summary>Registers the usage ledger: the in-process queue, the spool, the background writer and its health check.</summary>
    public static IHostApplicationBuilder AddUsageLedger(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<LedgerOptions>(LedgerOptions.SectionName);
        builder.Services.AddSingleton<LedgerStore>();
        builder.Services.AddSingleton<UsageLedger>();
        builder.Services.AddHostedService<LedgerWriter>();
        builder.Services.AddHealthChecks().AddCheck<LedgerHealthCheck>("ledger");
        return builder;
    }

    /// <summary>Records every inference request in the ledger once it ends (after authentication, around rate limits).</summary>
    public static IApplicationBuilder UseUsageLedger(this IApplicationBuilder app) => app.UseMiddleware<UsageLedgerMiddleware>();
}
