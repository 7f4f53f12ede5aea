using System.Diagnostics.Metrics;
using System.Threading.Channels;
using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>
/// The request path's side of the ledger: <see cref="Record"/> puts a row into a bounded in-process queue and returns
/// at once; <see cref="LedgerWriter"/> writes the queue to PostgreSQL in batches. A row that does not fit (queue full,
/// or the writer already stopped at shutdown) goes straight to the durable spool rather than being dropped; only when
/// the spool's disk cannot take it either is it lost, and counted.
/// </summary>
internal sealed partial class UsageLedger
{
    private readonly Channel<UsageEntry> queue;
    private readonly Lazy<DiskSpool<UsageEntry>> spool;
    private readonly ILogger<UsageLedger> logger;
    private readonly Counter<long> recorded;
    private readonly Counter<long> spooled;
    private readonly Counter<long> written;
    private readonly Counter<long> quarantined;
    private readonly Counter<long> lost;
    private int spoolFailing;

    public UsageLedger(GatewayDatabase database, IOptions<LedgerOptions> options, IMeterFactory meterFactory, ILogger<UsageLedger> logger)
    {
        this.logger = logger;
        Enabled = database.IsConfigured && options.Value.Enabled;
        queue = Channel.CreateBounded<UsageEntry>(new BoundedChannelOptions(options.Value.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        // Created on first use: a gateway without a ledger never touches the disk.
        spool = new Lazy<DiskSpool<UsageEntry>>(() => new DiskSpool<UsageEntry>(options.Value.ResolveSpoolDirectory()));

        var meter = meterFactory.Create("LlmAspire.Gateway.Ledger");
        recorded = meter.CreateCounter<long>("llmaspire.ledger.rows.recorded", "{row}", "Rows recorded by the request path.");
        written = meter.CreateCounter<long>("llmaspire.ledger.rows.written", "{row}", "Rows committed to PostgreSQL (including replayed ones).");
        spooled = meter.CreateCounter<long>("llmaspire.ledger.rows.spooled", "{row}", "Rows written to the local spool because PostgreSQL could not take them.");
        quarantined = meter.CreateCounter<long>("llmaspire.ledger.rows.quarantined", "{row}",
            "Rows PostgreSQL refused for what they hold, kept in the spool's quarantine directory instead of the table.");
        lost = meter.CreateCounter<long>("llmaspire.ledger.rows.lost", "{row}", "Rows neither PostgreSQL nor the spool's disk could take.");
        meter.CreateObservableUpDownCounter("llmaspire.ledger.queue", () => queue.Reader.Count, "{row}", "Rows waiting in memory for the writer.");
        meter.CreateObservableUpDownCounter("llmaspire.ledger.spool.segments", () => Enabled ? Spool.SegmentCount : 0, "{segment}", "Spool segments waiting to be replayed.");
    }

    /// <summary>False without <c>ConnectionStrings:gatewaydb</c> or with <c>Gateway:Ledger:Enabled</c> false.</summary>
    public bool Enabled { get; }

    public DiskSpool<UsageEntry> Spool => spool.Value;

    internal ChannelReader<UsageEntry> Reader => queue.Reader;

    public void Record(UsageEntry entry)
    {
        recorded.Add(1);
        if (!queue.Writer.TryWrite(entry) && !TrySpool([entry]))
        {
            lost.Add(1);
        }
    }

    /// <summary>Appends rows to the spool; false (logged once per failing stretch) when the disk cannot take them.</summary>
    internal bool TrySpool(IReadOnlyCollection<UsageEntry> rows)
    {
        try
        {
            Spool.Append(rows);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            if (Interlocked.Exchange(ref spoolFailing, 1) == 0)
            {
                LogSpoolFailed(logger, exception.Message, exception);
            }

            return false;
        }

        if (Interlocked.Exchange(ref spoolFailing, 0) == 1)
        {
            LogSpoolRecovered(logger);
        }

        spooled.Add(rows.Count);
        return true;
    }

    /// <summary>Sets aside a row PostgreSQL refused for what it holds (<see cref="DiskSpool{T}.Quarantine"/>).</summary>
    internal void Quarantine(UsageEntry entry, Exception reason)
    {
        LogQuarantined(logger, entry.RequestId, reason.Message);
        try
        {
            Spool.Quarantine(entry, entry.RequestId.ToString("N"), reason.Message);
            quarantined.Add(1);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            LogSpoolFailed(logger, exception.Message, exception);
            lost.Add(1);
        }
    }

    /// <summary>Why rows are not reaching PostgreSQL right now, or null when they are (or the ledger is off).</summary>
    public string? Backlog => !Enabled ? null
        : Volatile.Read(ref spoolFailing) == 1 ? "the spool's disk cannot be written; rows wait in memory"
        : Spool.SegmentCount is > 0 and var segments ? $"{segments} spool segment(s) wait for PostgreSQL"
        : null;

    internal void Written(int rows) => written.Add(rows);

    internal void Lost(int rows) => lost.Add(rows);

    /// <summary>Closes the queue at shutdown: the writer drains what is in it, later rows go to the spool.</summary>
    internal void Complete() => queue.Writer.TryComplete();

    [LoggerMessage(Level = LogLevel.Error, Message = "The usage ledger's spool cannot be written ({Reason}); rows wait in memory while PostgreSQL is away too, and are lost once the queue is full")]
    private static partial void LogSpoolFailed(ILogger logger, string reason, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "The usage ledger's spool can be written again")]
    private static partial void LogSpoolRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL refused the ledger row of request {RequestId} ({Reason}); it is kept in the spool's quarantine directory and the rest of its batch is written")]
    private static partial void LogQuarantined(ILogger logger, Guid requestId, string reason);
}
