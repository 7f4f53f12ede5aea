namespace LlmAspire.Gateway.Api.Requests;

/// <summary>
/// Who is calling, as established by authentication. <see cref="KeyId"/> is null when authentication is turned off
/// (every caller is then the <see cref="Anonymous"/> tenant).
/// </summary>
internal sealed record CallerIdentity(string? KeyId, string Tenant, int? RequestsPerMinute, int? TokensPerMinute, long? MonthlyTokenBudget)
{
    public const string AnonymousTenant = "default";

    public static readonly CallerIdentity Anonymous = new(null, AnonymousTenant, null, null, null);
}
