using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>
/// Moves ledger rows from the in-process queue to PostgreSQL, off the request path, in batches: up to
/// <see cref="LedgerOptions.BatchSize"/> rows that queued within <see cref="LedgerOptions.FlushInterval"/> of the first.
/// When PostgreSQL cannot be written the batch goes to the spool, and so does every later batch until the spool has
/// been replayed (oldest segment first), which keeps rows in order. A batch PostgreSQL refuses for what some of its
/// rows hold is halved until those rows stand alone; they are quarantined and the others written, so one bad row can
/// never hold up the rest. At shutdown the queue is drained before the host exits.
/// </summary>
internal sealed partial class LedgerWriter(UsageLedger ledger, LedgerStore store, IOptions<LedgerOptions> options, TimeProvider timeProvider,
    ILogger<LedgerWriter> logger) : BackgroundService
{
    // Cancelled when the host's shutdown timeout runs out: PostgreSQL is given up on and what is left goes to the spool.
    private readonly CancellationTokenSource abandon = new();
    private long nextRetry;
    private bool spooling;

    // A batch that neither PostgreSQL nor the spool's disk took; nothing newer is read until it has a place.
    private List<UsageEntry>? unspooled;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        ledger.Complete();
        await using var giveUp = cancellationToken.Register(abandon.Cancel);
        // Not bounded by the shutdown timeout: past it nothing waits for PostgreSQL any more, and the spool is local disk.
        if (ExecuteTask is { } running)
        {
            await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public override void Dispose()
    {
        abandon.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!ledger.Enabled)
        {
            return;
        }

        var reader = ledger.Reader;
        var batchSize = options.Value.BatchSize;
        Task<bool>? waiting = null;
        while (true)
        {
            // The queue is read without the stopping token: at shutdown it is completed instead, and drained first.
            waiting ??= reader.WaitToReadAsync(CancellationToken.None).AsTask();
            if (unspooled is not null)
            {
                await Task.Delay(options.Value.RetryInterval, timeProvider, abandon.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            else if (Backlogged && !waiting.IsCompleted)
            {
                await Task.WhenAny(waiting, Task.Delay(options.Value.RetryInterval, timeProvider));
            }

            await CatchUpAsync(force: false);
            if (unspooled is not null && !abandon.IsCancellationRequested)
            {
                continue;
            }

            if (!waiting.IsCompleted && Backlogged)
            {
                continue;
            }

            if (!await waiting)
            {
                break;
            }

            waiting = null;
            if (reader.Count < batchSize && options.Value.FlushInterval > TimeSpan.Zero && !abandon.IsCancellationRequested)
            {
                await Task.Delay(options.Value.FlushInterval, timeProvider);
            }

            var batch = new List<UsageEntry>(Math.Min(batchSize, reader.Count));
            while (batch.Count < batchSize && reader.TryRead(out var entry))
            {
                batch.Add(entry);
            }

            await PersistAsync(batch);
        }

        // Last chance before the process exits; whatever cannot be written stays in the spool for the next start.
        await CatchUpAsync(force: true);
        if (unspooled is { } left)
        {
            ledger.Lost(left.Count);
            LogLostAtShutdown(logger, left.Count);
        }
    }

    /// <summary>Older rows wait (on disk or in memory); new ones queue behind them.</summary>
    private bool Backlogged => unspooled is not null || ledger.Spool.HasSegments;

    private async Task PersistAsync(List<UsageEntry> batch)
    {
        if (!Backlogged)
        {
            try
            {
                await WriteAsync(batch);
                return;
            }
            catch (Exception exception)
            {
                // Whatever the reason, the rows are kept: a failure that is not an outage shows in the log on every retry.
                StartSpooling(exception);
            }
        }

        Spool(batch);
    }

    private void Spool(List<UsageEntry> batch)
    {
        if (ledger.TrySpool(batch))
        {
            return;
        }

        if (unspooled is null)
        {
            unspooled = batch;
            ScheduleRetry();
        }
        else
        {
            // Only once shutdown has stopped waiting for a place for the batch already held.
            ledger.Lost(batch.Count);
        }
    }

    /// <summary>Gives the batch the disk would not take another place, then replays the spool, oldest segment first.</summary>
    private async Task CatchUpAsync(bool force)
    {
        if (!Backlogged || (!force && timeProvider.GetTimestamp() < nextRetry))
        {
            return;
        }

        if (unspooled is { } held)
        {
            unspooled = null;
            Spool(held);
            if (unspooled is not null)
            {
                try
                {
                    await WriteAsync(held);
                    unspooled = null;
                }
                catch (Exception exception)
                {
                    StartSpooling(exception);
                    return;
                }
            }
        }

        var replayed = 0;
        foreach (var segment in ledger.Spool.Segments())
        {
            try
            {
                var rows = DiskSpool<UsageEntry>.Read(segment);
                await WriteAsync(rows);
                ledger.Spool.Delete(segment);
                replayed += rows.Count;
            }
            catch (Exception exception)
            {
                StartSpooling(exception);
                ScheduleRetry();
                return;
            }
        }

        if (spooling || replayed > 0)
        {
            spooling = false;
            LogReplayed(logger, replayed);
        }
    }

    /// <summary>
    /// Writes rows to PostgreSQL. Rows it refuses for what they hold (not for being unreachable) are found by halving
    /// the batch and quarantined; any other failure is thrown for the caller to spool the whole batch (rows already
    /// written are skipped when it is replayed).
    /// </summary>
    private async Task WriteAsync(IReadOnlyList<UsageEntry> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        try
        {
            await store.InsertAsync(rows, abandon.Token);
            ledger.Written(rows.Count);
        }
        catch (Exception exception) when (LedgerStore.IsRowError(exception))
        {
            if (rows.Count == 1)
            {
                ledger.Quarantine(rows[0], exception);
                return;
            }

            var half = rows.Count / 2;
            await WriteAsync(rows.Take(half).ToList());
            await WriteAsync(rows.Skip(half).ToList());
        }
    }

    private void ScheduleRetry() =>
        nextRetry = timeProvider.GetTimestamp() + (long)(options.Value.RetryInterval.TotalSeconds * timeProvider.TimestampFrequency);

    private void StartSpooling(Exception exception)
    {
        ScheduleRetry();
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutting down with {Rows} ledger rows that neither PostgreSQL nor the spool's disk took; they are lost")]
    private static partial void LogLostAtShutdown(ILogger logger, int rows);
}
