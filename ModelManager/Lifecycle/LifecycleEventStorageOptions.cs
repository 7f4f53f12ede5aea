using System.ComponentModel.DataAnnotations;
using LlmAspire.Storage;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// The <c>ModelManager:LifecycleEvents</c> configuration section: how lifecycle events reach the
/// <c>model_lifecycle_events</c> table. Used only with <c>ConnectionStrings:gatewaydb</c>.
/// </summary>
internal sealed class LifecycleEventStorageOptions
{
    public const string SectionName = "ModelManager:LifecycleEvents";

    /// <summary>Most events per INSERT.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 100;

    /// <summary>How long the writer lets a batch fill after its first event (unless it is full sooner).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Events waiting in memory for the writer (besides the batch being written); an event that finds it full goes
    /// straight to the spool.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxBufferedEvents { get; set; } = 10_000;

    /// <summary>First wait before PostgreSQL is tried again after a failed write; doubles per consecutive failure.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between attempts while PostgreSQL stays unreachable.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan MaxRetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Durable local directory for events PostgreSQL could not take (down, or still away at shutdown); they are written
    /// from there, in order, once it is back, by this process or the next one. Default:
    /// <c>lifecycle-event-spool/&lt;ModelManager:Name&gt;</c> under the user's local application data.
    /// </summary>
    public string? SpoolDirectory { get; set; }

    public string ResolveSpoolDirectory(string managerName) => string.IsNullOrWhiteSpace(SpoolDirectory)
        ? SpoolDirectories.Default(Path.Combine("lifecycle-event-spool", managerName))
        : Path.GetFullPath(SpoolDirectory);
}
