namespace LlmAspire.Gateway.Ledger;

/// <summary>One row of <c>usage_ledger</c>: one inference request, whatever its outcome.</summary>
public sealed record UsageEntry(
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
    double? TimeToFirstTokenMs);
