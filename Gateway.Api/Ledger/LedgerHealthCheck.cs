using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>
/// <c>/health</c> says Degraded (still 200: requests are served and no row is lost) while ledger rows are not reaching
/// PostgreSQL, with the reason: rows spooled to disk, or the spool's disk failing too.
/// </summary>
internal sealed class LedgerHealthCheck(UsageLedger ledger) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(ledger.Backlog is { } reason ? HealthCheckResult.Degraded($"Usage ledger: {reason}.") : HealthCheckResult.Healthy());
}
