using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Authentication;

/// <summary>
/// One row of <c>api_keys</c>. Limits left null take the <c>Gateway:RateLimits</c> defaults; a queue weight left null is
/// <see cref="CallerIdentity.DefaultQueueWeight"/>.
/// </summary>
internal sealed record ApiKeyRecord(
    string Id,
    string Name,
    string Tenant,
    byte[] SecretHash,
    int? RequestsPerMinute,
    int? TokensPerMinute,
    long? MonthlyTokenBudget,
    int? QueueWeight,
    DateTime CreatedAt,
    DateTime? RevokedAt)
{
    /// <summary>Who a request presenting this key comes from.</summary>
    public CallerIdentity ToCaller() =>
        new(Id, Tenant, RequestsPerMinute, TokensPerMinute, MonthlyTokenBudget, QueueWeight ?? CallerIdentity.DefaultQueueWeight);
}
