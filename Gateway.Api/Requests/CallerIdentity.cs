namespace LlmAspire.Gateway.Api.Requests;

/// <summary>
/// Who is calling, as established by authentication. <see cref="KeyId"/> is null when authentication is turned off
/// (every caller is then the <see cref="Anonymous"/> tenant). <see cref="QueueWeight"/> is how many of a model's
/// free slots the key gets per turn while requests of several keys wait for one.
/// </summary>
internal sealed record CallerIdentity(
    string? KeyId, string Tenant, int? RequestsPerMinute, int? TokensPerMinute, long? MonthlyTokenBudget, int QueueWeight = CallerIdentity.DefaultQueueWeight)
{
    public const string AnonymousTenant = "default";

    public const int DefaultQueueWeight = 1;

    public static readonly CallerIdentity Anonymous = new(null, AnonymousTenant, null, null, null);

    /// <summary>Whose turn a waiting request takes in a model's queue: its key's (every anonymous caller shares one).</summary>
    public string QueueKey => KeyId ?? Tenant;
}
