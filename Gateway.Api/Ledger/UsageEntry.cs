namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>One row of <c>usage_ledger</c>: one inference request, whatever its outcome.</summary>
/// <remarks><see cref="Model"/> is what the client sent, cut to <see cref="MaxModelLength"/>: the queue and the spool hold rows, not bodies.</remarks>
internal sealed record UsageEntry(
    Guid RequestId,
    DateTime OccurredAt,
    string? KeyId,
    string Tenant,
    string Model,
    string Operation,
    long PromptTokens,
    long CompletionTokens,
    bool Cached,
    int Status,
    double LatencyMs,
    double? TimeToFirstTokenMs)
{
    public const int MaxModelLength = 256;
}
