using System.ComponentModel.DataAnnotations;

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
    /// Events waiting in memory for PostgreSQL (besides the batch being written). While PostgreSQL is unreachable they
    /// accumulate here; beyond it new events are not stored (they still reach the log and <c>/api/events</c>).
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxBufferedEvents { get; set; } = 10_000;

    /// <summary>First wait before a failed write is tried again; doubles per consecutive failure.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between attempts while PostgreSQL stays unreachable.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan MaxRetryInterval { get; set; } = TimeSpan.FromSeconds(30);
}
