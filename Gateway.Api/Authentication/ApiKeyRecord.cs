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
    DateTime? RevokedAt);

/// <summary>
/// Who is calling, as established by authentication, carried on the request as a feature. <see cref="KeyId"/> is null
/// when authentication is turned off (every caller is then the <see cref="Anonymous"/> tenant).
/// </summary>
internal sealed record CallerIdentity(string? KeyId, string Tenant, int? RequestsPerMinute, int? TokensPerMinute, long? MonthlyTokenBudget)
{
    public const string AnonymousTenant = "default";

    public static readonly CallerIdentity Anonymous = new(null, AnonymousTenant, null, null, null);

    public static CallerIdentity From(ApiKeyRecord key) =>
        new(key.Id, key.Tenant, key.RequestsPerMinute, key.TokensPerMinute, key.MonthlyTokenBudget);
}
