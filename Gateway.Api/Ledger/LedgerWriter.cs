using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Ledger;

/// <summary>
/// Moves ledger rows from the in-process queue to PostgreSQL, off the request path, in batches: up to
/// <see cref="LedgerOptions.BatchSize"/> rows that queued within <see cref="LedgerOptions.FlushInterval"/> of the first.
/// When a write fails the batch goes to the spool, and so does every later batch until the spool has been replayed
/// (oldest segment first), which keeps rows in order. At shutdown the queue is drained before the host exits.
/// </summary>
internal sealed partial class LedgerWriter(UsageLedger ledger, LedgerStore store, IOptions<LedgerOptions> options, TimeProvider timeProvider,
    ILogger<LedgerWriter> logger) : BackgroundService
{
    private long nextReplay;
    private bool spooling;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        ledger.Complete();
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!ledger.Enabled)
        {
            return;
        }

        var reader = ledger.Reader;
        var batchSize = options.Value.BatchSize;
        var batch = new List<UsageEntry>(batchSize);
        Task<bool>? waiting = null;
        while (true)
        {
            // The queue is read without the stopping token: at shutdown it is completed instead, and drained first.
            waiting ??= reader.WaitToReadAsync(CancellationToken.None).AsTask();
            if (ledger.Spool.HasSegments && !waiting.IsCompleted)
            {
                await Task.WhenAny(waiting, Task.Delay(options.Value.RetryInterval, timeProvider));
            }

            await ReplayAsync(force: false);
            if (!waiting.IsCompleted && ledger.Spool.HasSegments)
            {
                continue;
            }

            if (!await waiting)
            {
                break;
            }

            waiting = null;
            if (reader.Count < batchSize && options.Value.FlushInterval > TimeSpan.Zero)
            {
                await Task.Delay(options.Value.FlushInterval, timeProvider);
            }

            while (batch.Count < batchSize && reader.TryRead(out var entry))
            {
                batch.Add(entry);
            }

            await PersistAsync(batch);
            batch.Clear();
        }

        // Last chance before the process exits; whatever cannot be written stays in the spool for the next start.
        await ReplayAsync(force: true);
    }

    private async Task PersistAsync(List<UsageEntry> batch)
    {
        if (ledger.Spool.HasSegments)
        {
            // Older rows are waiting on disk; these go behind them.
            ledger.SpoolRows(batch);
            return;
        }

        try
        {
            await store.InsertAsync(batch, CancellationToken.None);
            ledger.Written(batch.Count);
        }
        catch (Exception exception)
        {
            // Whatever the reason, the rows are kept: a failure that is not an outage will show in the log on every retry.
            ledger.SpoolRows(batch);
            StartSpooling(exception);
        }
    }

    private async Task ReplayAsync(bool force)
    {
        if (!ledger.Spool.HasSegments || (!force && timeProvider.GetTimestamp() < nextReplay))
        {
            return;
        }

        var replayed = 0;
        foreach (var segment in ledger.Spool.Segments())
        {
            try
            {
                var rows = LedgerSpool.Read(segment);
                if (rows.Count > 0)
                {
                    await store.InsertAsync(rows, CancellationToken.None);
                }

                ledger.Spool.Delete(segment);
                ledger.Written(rows.Count);
                replayed += rows.Count;
            }
            catch (Exception exception)
            {
                StartSpooling(exception);
                nextReplay = timeProvider.GetTimestamp() + (long)(options.Value.RetryInterval.TotalSeconds * timeProvider.TimestampFrequency);
                return;
            }
        }

        if (spooling || replayed > 0)
        {
            spooling = false;
            LogReplayed(logger, replayed);
        }
    }

    private void StartSpooling(Exception exception)
    {
        if (!spooling)
        {
            spooling = true;
            LogSpooling(logger, exception.Message, exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The usage ledger cannot write to PostgreSQL ({Reason}); rows are spooled to local disk and replayed when it returns")]
    private static partial void LogSpooling(ILogger logger, string reason, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "The usage ledger writes to PostgreSQL again; {Rows} spooled rows replayed")]
    private static partial void LogReplayed(ILogger logger, int rows);
}
