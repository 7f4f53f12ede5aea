using LlmAspire.Gateway.Api.Authentication;
using LlmAspire.Gateway.Api.Forwarding;
using LlmAspire.Gateway.Api.Inference;
using LlmAspire.Gateway.Api.Telemetry;
using LlmAspire.Storage;

namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>
/// Writes one ledger row for every inference request once it has ended, whatever its outcome: served, cached,
/// rate-limited, rejected as malformed, failed upstream or abandoned by the client (status 499); and counts it in the
/// gateway's metrics, which need no database.
/// </summary>
internal sealed class UsageLedgerMiddleware(RequestDelegate next, UsageLedger ledger, GatewayMetrics metrics, TimeProvider timeProvider)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<InferenceEndpointMetadata>() is not { } endpoint)
        {
            await next(context);
            return;
        }

        var record = UsageRecord.For(context);
        var occurredAt = timeProvider.GetUtcNow().UtcDateTime;
        var started = timeProvider.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var usage = record.Usage(context);
            var status = record.Outcome(context);
            metrics.RequestEnded(record.Model, endpoint.Operation, status, usage, record.Cached);
            if (ledger.Enabled)
            {
                var caller = context.Features.Get<CallerIdentity>() ?? CallerIdentity.Anonymous;
                var exchange = context.Features.Get<UpstreamExchange>();
                var timeToFirstToken = exchange is { Streaming: true, TimeToFirstByte: { } ttfb } ? ttfb.TotalMilliseconds : (double?)null;
                ledger.Record(new UsageEntry(
                    record.RequestId,
                    occurredAt,
                    caller.KeyId,
                    caller.Tenant,
                    PostgresText.Storable(record.Model ?? "", UsageEntry.MaxModelLength),
                    InferenceRequest.OperationName(endpoint.Operation),
                    usage?.InputTokens ?? 0,
                    usage?.OutputTokens ?? 0,
                    record.Cached,
                    status,
                    timeProvider.GetElapsedTime(started).TotalMilliseconds,
                    timeToFirstToken));
            }
        }
    }
}
