using System.ComponentModel.DataAnnotations;

namespace LlmAspire.Gateway.Storage;

/// <summary>The <c>Gateway:Storage</c> configuration section.</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Gateway:Storage";

    /// <summary>
    /// How long start-up waits for PostgreSQL to accept the migrations (it may still be starting next to the gateway);
    /// past it the gateway refuses to start.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan MigrationTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
