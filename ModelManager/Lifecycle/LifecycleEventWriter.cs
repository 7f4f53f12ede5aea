using System.Threading.Channels;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.Storage;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// The lifecycle event sink when ModelManager has a database. Each event goes to the in-memory sink (log,
/// <c>/api/events</c>) and, without waiting, into a bounded in-process queue that this service writes to
/// <c>model_lifecycle_events</c> in batches. No event is given up while PostgreSQL is away: a batch it does not take
/// goes to a disk spool (<see cref="DiskSpool{T}"/>, one file per batch), and every later batch follows it there until
/// the spool has been written, oldest file first, so events reach the table in the order they happened. PostgreSQL is
/// tried again after <see cref="LifecycleEventStorageOptions.RetryInterval"/>, doubling per failed attempt. At shutdown
/// the queue is written to PostgreSQL for as long as the host's shutdown timeout allows, and to the spool after that;
/// the next start writes the spool.
/// </summary>
internal sealed partial class LifecycleEventWriter : BackgroundService, ILifecycleEventSink
{
    private readonly InMemoryLifecycleEventSink memory;
    private readonly LifecycleEventStore store;
    private readonly LifecycleEventStorageOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger<LifecycleEventWriter> logger;
    private readonly Channel<LifecycleEventRow> queue;
    private readonly DiskSpool<LifecycleEventRow> spool;

    // Cancelled when the host's shutdown timeout runs out: PostgreSQL is given up on and what is left goes to the spool.
    private readonly CancellationTokenSource abandon = new();

    // Failed attempts since PostgreSQL last took a batch, and when the next one is due (a timestamp).
    private int failedAttempts;
    private long nextAttempt;
    private int spoolFailing;

    // Set when an event found the queue full: later events go to the spool too, until the queue has been emptied, so
    // that none of them is written before an older one still queued.
    private volatile bool overflowing;

    public LifecycleEventWriter(InMemoryLifecycleEventSink memory, LifecycleEventStore store, IOptions<LifecycleEventStorageOptions> options,
        IOptions<ModelManagerOptions> managerOptions, TimeProvider timeProvider, ILogger<LifecycleEventWriter> logger)
    {
        this.memory = memory;
        this.store = store;
        this.options = options.Value;
        this.timeProvider = timeProvider;
        this.logger = logger;
        queue = Channel.CreateBounded<LifecycleEventRow>(new BoundedChannelOptions(this.options.MaxBufferedEvents)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        // Opened at start-up: a directory that cannot be used stops the start, before any event needs it.
        spool = new DiskSpool<LifecycleEventRow>(this.options.ResolveSpoolDirectory(managerOptions.Value.Name));
    }

    public void Record(LifecycleEvent lifecycleEvent)
    {
        memory.Record(lifecycleEvent);
        // The id is fixed before the first write, so writing the event again after an unknown outcome stores it once.
        var row = new LifecycleEventRow(Guid.CreateVersion7(lifecycleEvent.OccurredAt), lifecycleEvent);
        if (overflowing || !queue.Writer.TryWrite(row))
        {
            // The queue is full (a write has been stuck for MaxBufferedEvents events) or closed (shutting down). The
            // spool orders files by their first event's time, so the older events still queued replay before this one.
            overflowing = true;
            SpoolOrLose([row]);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Hosted services stop in reverse order: the fleet has recorded its last events by now.
        queue.Writer.TryComplete();
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
        var reader = queue.Reader;
        var batch = new List<LifecycleEventRow>(options.BatchSize);
        Task<bool>? arrived = null;
        while (true)
        {
            // Read without the stopping token: at shutdown the queue is completed instead, and drained first.
            arrived ??= reader.WaitToReadAsync(CancellationToken.None).AsTask();
            if (spool.HasSegments && !abandon.IsCancellationRequested)
            {
                // The spool is written first: nothing newer may overtake it. New events meanwhile join it on disk.
                await Task.WhenAny(arrived, Task.Delay(UntilNextAttempt(), timeProvider, abandon.Token));
                // Events still queued go to the spool first: after an overflow, newer ones may be on disk already, and
                // the files sort by time only once all of them are there.
                if (UntilNextAttempt() == TimeSpan.Zero && reader.Count == 0)
                {
                    await ReplayAsync();
                }

                if (!arrived.IsCompleted)
                {
                    continue;
                }
            }

            if (!await arrived)
            {
                break;
            }

            arrived = null;
            if (reader.Count < options.BatchSize && options.FlushInterval > TimeSpan.Zero && !stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(options.FlushInterval, timeProvider, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            while (batch.Count < options.BatchSize && reader.TryRead(out var row))
            {
                batch.Add(row);
            }

            if (reader.Count == 0)
            {
                overflowing = false;
            }

            await WriteOrSpoolAsync(batch);
            batch.Clear();
        }

        // A last attempt before the process exits; what PostgreSQL does not take stays in the spool for the next start.
        if (!abandon.IsCancellationRequested && spool.HasSegments)
        {
            await ReplayAsync();
        }

        if (spool.SegmentCount is > 0 and var left)
        {
            LogLeftInSpool(logger, left);
        }
    }

    private async Task WriteOrSpoolAsync(List<LifecycleEventRow> batch)
    {
        if (!spool.HasSegments && !abandon.IsCancellationRequested)
        {
            try
            {
                await store.InsertAsync(batch, abandon.Token);
                Succeeded(replayed: 0);
                return;
            }
            catch (Exception exception)
            {
                // Whatever the reason, the events are kept: an outage ends by itself, and any other failure is logged.
                Failed(exception, batch.Count);
            }
        }

        SpoolOrLose(batch);
    }

    /// <summary>Writes the spool to PostgreSQL, oldest file first, deleting each file once its events are committed.</summary>
    private async Task ReplayAsync()
    {
        var replayed = 0;
        foreach (var segment in spool.Segments())
        {
            var rows = DiskSpool<LifecycleEventRow>.Read(segment);
            try
            {
                if (rows.Count > 0)
                {
                    await store.InsertAsync(rows, abandon.Token);
                }
            }
            catch (Exception exception)
            {
                Failed(exception, rows.Count);
                return;
            }

            spool.Delete(segment);
            replayed += rows.Count;
        }

        Succeeded(replayed);
    }

    private TimeSpan UntilNextAttempt()
    {
        var left = nextAttempt - timeProvider.GetTimestamp();
        return left <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)left / timeProvider.TimestampFrequency);
    }

    private void Failed(Exception exception, int events)
    {
        var delay = Backoff.After(++failedAttempts, options.RetryInterval, options.MaxRetryInterval);
        nextAttempt = timeProvider.GetTimestamp() + (long)(delay.TotalSeconds * timeProvider.TimestampFrequency);
        // Logged at the first failure, then at most once per MaxRetryInterval.
        if (failedAttempts == 1 || delay == options.MaxRetryInterval)
        {
            LogWriteFailed(logger, failedAttempts, exception.Message, events, exception);
        }
    }

    private void Succeeded(int replayed)
    {
        if (failedAttempts > 0 || replayed > 0)
        {
            LogWritingAgain(logger, failedAttempts, replayed);
        }

        failedAttempts = 0;
        nextAttempt = 0;
    }

    /// <summary>Appends events to the spool; when the disk cannot take them they are only in the log and <c>/api/events</c>.</summary>
    private void SpoolOrLose(IReadOnlyCollection<LifecycleEventRow> rows)
    {
        try
        {
            spool.Append(rows, rows.First().Event.OccurredAt);
            if (Interlocked.Exchange(ref spoolFailing, 0) == 1)
            {
                LogSpoolRecovered(logger);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            if (Interlocked.Exchange(ref spoolFailing, 1) == 0)
            {
                LogSpoolFailed(logger, exception.Message, exception);
            }

            LogLost(logger, rows.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lifecycle events cannot be written to PostgreSQL (attempt {Attempt}: {Reason}); {Events} events go to the spool on disk and are written once it is back")]
    private static partial void LogWriteFailed(ILogger logger, int attempt, string reason, int events, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lifecycle events are written to PostgreSQL again (failed attempts: {Failures}; {Replayed} spooled events written)")]
    private static partial void LogWritingAgain(ILogger logger, int failures, int replayed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ModelManager stops with {Segments} spool file(s) of lifecycle events that PostgreSQL has not taken; the next start writes them")]
    private static partial void LogLeftInSpool(ILogger logger, int segments);

    [LoggerMessage(Level = LogLevel.Error, Message = "The lifecycle event spool cannot be written ({Reason}); while PostgreSQL is away too, events are only in the log and /api/events")]
    private static partial void LogSpoolFailed(ILogger logger, string reason, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "The lifecycle event spool can be written again")]
    private static partial void LogSpoolRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Events} lifecycle events were not stored: neither PostgreSQL nor the spool's disk took them")]
    private static partial void LogLost(ILogger logger, int events);
}
