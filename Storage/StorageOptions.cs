using System.ComponentModel.DataAnnotations;

namespace LlmAspire.Storage;

/// <summary>A service's storage section (<c>Gateway:Storage</c>, <c>ModelManager:Storage</c>).</summary>
internal sealed class StorageOptions
{
    /// <summary>
    /// How long start-up waits for PostgreSQL to accept the migrations (it may still be starting next to the service);
    /// past it the service refuses to start.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan MigrationTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
