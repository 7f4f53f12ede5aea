using System.Diagnostics.Metrics;
using System.Threading.Channels;
using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Ledger;

/// <summary>
/// The request path's side of the ledger: <see cref="Record"/> puts a row into a bounded in-process queue and returns
/// at once; <see cref="LedgerWriter"/> writes the queue to PostgreSQL in batches. A row that does not fit (queue full,
/// or the writer already stopped at shutdown) goes straight to the durable spool rather than being dropped.
/// </summary>
public sealed class UsageLedger
{
    private readonly Channel<UsageEntry> queue;
    private readonly Lazy<LedgerSpool> spool;
    private readonly Counter<long> recorded;
    private readonly Counter<long> spooled;
    private readonly Counter<long> written;

    public UsageLedger(GatewayDatabase database, IOptions<LedgerOptions> options, IMeterFactory meterFactory)
    {
        Enabled = database.IsConfigured && options.Value.Enabled;
        queue = Channel.CreateBounded<UsageEntry>(new BoundedChannelOptions(options.Value.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        // Created on first use: a gateway without a ledger never touches the disk.
        spool = new Lazy<LedgerSpool>(() => new LedgerSpool(options.Value.ResolveSpoolDirectory()));

        var meter = meterFactory.Create("LlmAspire.Gateway.Ledger");
        recorded = meter.CreateCounter<long>("llmaspire.ledger.rows.recorded", "{row}", "Rows recorded by the request path.");
        written = meter.CreateCounter<long>("llmaspire.ledger.rows.written", "{row}", "Rows committed to PostgreSQL (including replayed ones).");
        spooled = meter.CreateCounter<long>("llmaspire.ledger.rows.spooled", "{row}", "Rows written to the local spool because PostgreSQL could not take them.");
        meter.CreateObservableUpDownCounter("llmaspire.ledger.queue", () => queue.Reader.Count, "{row}", "Rows waiting in memory for the writer.");
        meter.CreateObservableUpDownCounter("llmaspire.ledger.spool.segments", () => Enabled ? Spool.SegmentCount : 0, "{segment}", "Spool segments waiting to be replayed.");
    }

    /// <summary>False without <c>ConnectionStrings:gatewaydb</c> or with <c>Gateway:Ledger:Enabled</c> false.</summary>
    public bool Enabled { get; }

    public LedgerSpool Spool => spool.Value;

    internal ChannelReader<UsageEntry> Reader => queue.Reader;

    public void Record(UsageEntry entry)
    {
        recorded.Add(1);
        if (!queue.Writer.TryWrite(entry))
        {
            SpoolRows([entry]);
        }
    }

    internal void SpoolRows(IReadOnlyCollection<UsageEntry> rows)
    {
        Spool.Append(rows);
        spooled.Add(rows.Count);
    }

    internal void Written(int rows) => written.Add(rows);

    /// <summary>Closes the queue at shutdown: the writer drains what is in it, later rows go to the spool.</summary>
    internal void Complete() => queue.Writer.TryComplete();
}
