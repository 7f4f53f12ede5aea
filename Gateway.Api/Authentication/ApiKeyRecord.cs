using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Authentication;

/// <summary>One row of <c>api_keys</c>. Limits left null take the <c>Gateway:RateLimits</c> defaults.</summary>
internal sealed record ApiKeyRecord(
    string Id,
    string Name,
    string Tenant,
    byte[] SecretHash,
    int? RequestsPerMinute,
    int? TokensPerMinute,
    long? MonthlyTokenBudget,
    DateTime CreatedAt,
    DateTime? RevokedAt)
{
    /// <summary>Who a request presenting this key comes from.</summary>
    public CallerIdentity ToCaller() => new(Id, Tenant, RequestsPerMinute, TokensPerMinute, MonthlyTokenBudget);
}
