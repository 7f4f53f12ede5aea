using LlmAspire.Storage;
using System.ComponentModel.DataAnnotations;

namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>The <c>Gateway:Ledger</c> configuration section. The ledger runs when <c>ConnectionStrings:gatewaydb</c> is set.</summary>
internal sealed class LedgerOptions
{
    public const string SectionName = "Gateway:Ledger";

    public bool Enabled { get; set; } = true;

    /// <summary>Rows waiting in memory for the writer; beyond it rows go straight to the spool (never dropped).</summary>
    [Range(1, 10_000_000)]
    public int QueueCapacity { get; set; } = 100_000;

    /// <summary>Most rows per INSERT.</summary>
    [Range(1, 100_000)]
    public int BatchSize { get; set; } = 1_000;

    /// <summary>
    /// How long the writer lets a batch fill after its first row (unless it is full sooner). A transaction per row would
    /// cost PostgreSQL a commit each and take CPU from the request path on a busy host; rows reach the table this much later.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>While rows are spooled, how often the writer tries PostgreSQL again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Durable local directory for rows that could not be written (PostgreSQL down, or shutting down without it).
    /// Default: <c>ledger-spool</c> under the user's local application data. Give each replica on a host its own.
    /// </summary>
    public string? SpoolDirectory { get; set; }

    public string ResolveSpoolDirectory() =>
        string.IsNullOrWhiteSpace(SpoolDirectory) ? SpoolDirectories.Default("ledger-spool") : Path.GetFullPath(SpoolDirectory);
}
