using LlmAspire.Gateway.Api.Requests;
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

        var state = RequestState.Of(context);
        var occurredAt = timeProvider.GetUtcNow().UtcDateTime;
        var started = timeProvider.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var usage = state.Usage;
            var status = state.Outcome(context);
            metrics.RequestEnded(state.Model, endpoint.Operation, status, usage, state.Cached);
            if (ledger.Enabled)
            {
                var caller = state.Caller;
                var timeToFirstToken = state.Upstream is { Streaming: true, TimeToFirstByte: { } ttfb } ? ttfb.TotalMilliseconds : (double?)null;
                ledger.Record(new UsageEntry(
                    state.RequestId,
                    occurredAt,
                    caller.KeyId,
                    caller.Tenant,
                    PostgresText.Storable(state.Model ?? "", UsageEntry.MaxModelLength),
                    endpoint.Operation.Name(),
                    usage?.InputTokens ?? 0,
                    usage?.OutputTokens ?? 0,
                    state.Cached,
                    status,
                    timeProvider.GetElapsedTime(started).TotalMilliseconds,
                    timeToFirstToken));
            }
        }
    }
}
