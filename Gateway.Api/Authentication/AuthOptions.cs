using System.ComponentModel.DataAnnotations;
using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Authentication;

/// <summary>The <c>Gateway:Auth</c> configuration section.</summary>
internal sealed class AuthOptions
{
    public const string SectionName = "Gateway:Auth";
    public const int MinimumAdminKeyLength = 24;

    /// <summary>
    /// Every <c>/v1</c> request must present an API key. On by default; <c>false</c> is for local development only
    /// (every caller is then the tenant <c>default</c> with no limits).
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Bearer token for <c>/admin</c>; without it the admin API answers 401 to everyone.</summary>
    public string? AdminKey { get; set; }

    /// <summary>How long a looked-up key is trusted before PostgreSQL is asked again: the longest a revocation takes to reach every replica.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan KeyCacheTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// While PostgreSQL is unreachable, a key that was valid within this long keeps working, so a database outage
    /// does not lock out callers already served; keys never seen before get 503 until it returns.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan KeyCacheMaxStale { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Longest wait for PostgreSQL to answer a key lookup. Past it the lookup counts as failed, like an unreachable
    /// database: a recently seen key keeps working, others get 503. A hung database then costs a request this much.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan KeyLookupTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Most lookups per second of keys this replica does not have in memory (first use, or ids that do not exist);
    /// past it such keys get 503 with Retry-After. Keys in memory are never limited, so a flood of made-up keys costs
    /// the database at most this many queries a second and callers already known nothing.
    /// </summary>
    [Range(1, 100_000)]
    public int NewKeyLookupsPerSecond { get; set; } = 200;
}

/// <summary>Rules that span sections: keys live in PostgreSQL, so authentication needs a database.</summary>
internal sealed class AuthOptionsValidator(GatewayDatabase database) : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var errors = new List<string>();
        if (options.Enabled && !database.IsConfigured)
        {
            errors.Add($"{AuthOptions.SectionName}:Enabled is true (the default) but ConnectionStrings:{GatewayDatabase.ConnectionStringName} "
                + $"(environment ConnectionStrings__{GatewayDatabase.ConnectionStringName}) is not set; API keys are stored in PostgreSQL. "
                + $"Set the connection string, or turn authentication off for local development with {AuthOptions.SectionName}:Enabled=false "
                + "(environment Gateway__Auth__Enabled=false).");
        }

        if (options.AdminKey is { } adminKey && adminKey.Trim().Length < AuthOptions.MinimumAdminKeyLength)
        {
            errors.Add($"{AuthOptions.SectionName}:AdminKey (environment Gateway__Auth__AdminKey) is too short; it must have at least {AuthOptions.MinimumAdminKeyLength} characters.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
