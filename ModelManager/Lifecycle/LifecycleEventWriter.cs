using System.Threading.Channels;
using LlmAspire.ModelManager.Client;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// The lifecycle event sink when ModelManager has a database. Each event goes to the in-memory sink (log,
/// <c>/api/events</c>) and, without waiting, into a bounded in-process queue that this service writes to
/// <c>model_lifecycle_events</c> in batches. A batch that cannot be written is kept and tried again with exponential
/// backoff until PostgreSQL takes it, so an outage loses no event that fits in
/// <see cref="LifecycleEventStorageOptions.MaxBufferedEvents"/>, and events keep their order. At shutdown the queue is
/// drained for as long as the host's shutdown timeout allows.
/// </summary>
internal sealed partial class LifecycleEventWriter : BackgroundService, ILifecycleEventSink
{
    private readonly InMemoryLifecycleEventSink memory;
    private readonly LifecycleEventStore store;
    private readonly LifecycleEventStorageOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger<LifecycleEventWriter> logger;
    private readonly Channel<LifecycleEventRow> queue;

    // Cancelled when the host's shutdown timeout runs out: the writer stops trying and says what it could not store.
    private readonly CancellationTokenSource abandon = new();

    // Events not queued since the last successful write (queue full, or recorded after shutdown began).
    private long notQueued;

    public LifecycleEventWriter(InMemoryLifecycleEventSink memory, LifecycleEventStore store, IOptions<LifecycleEventStorageOptions> options,
        TimeProvider timeProvider, ILogger<LifecycleEventWriter> logger)
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
    }

    public void Record(LifecycleEvent lifecycleEvent)
    {
        memory.Record(lifecycleEvent);
        // The id is fixed before the first write, so writing the event again after an unknown outcome stores it once.
        var row = new LifecycleEventRow(Guid.CreateVersion7(lifecycleEvent.OccurredAt), lifecycleEvent);
        if (!queue.Writer.TryWrite(row) && Interlocked.Increment(ref notQueued) == 1)
        {
            LogNotQueued(logger, options.MaxBufferedEvents);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Hosted services stop in reverse order: the fleet has recorded its last events by now.
        queue.Writer.TryComplete();
        await using var giveUp = cancellationToken.Register(abandon.Cancel);
        await base.StopAsync(cancellationToken);
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
        // Read without the stopping token: at shutdown the queue is completed instead, and drained first.
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            if (reader.Count < options.BatchSize && options.FlushInterval > TimeSpan.Zero && !stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(options.FlushInterval, timeProvider, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            while (batch.Count < options.BatchSize && reader.TryRead(out var row))
            {
                batch.Add(row);
            }

            if (!await WriteAsync(batch))
            {
                var lost = batch.Count;
                while (reader.TryRead(out _))
                {
                    lost++;
                }

                LogAbandoned(logger, lost);
                return;
            }

            batch.Clear();
        }
    }

    /// <summary>Writes the batch, trying again with backoff until it is stored; false only when shutdown gave up on it.</summary>
    private async Task<bool> WriteAsync(List<LifecycleEventRow> batch)
    {
        for (var failures = 0; ; failures++)
        {
            try
            {
                await store.InsertAsync(batch, abandon.Token);
                if (failures > 0)
                {
                    LogWritingAgain(logger, failures);
                }

                if (Interlocked.Exchange(ref notQueued, 0) is > 0 and var skipped)
                {
                    LogNotStored(logger, skipped);
                }

                return true;
            }
            catch (Exception) when (abandon.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception exception)
            {
                // Whatever the reason, the batch is kept and tried again: an outage ends by itself, and any other
                // failure is logged at the first attempt and then at most once per MaxRetryInterval.
                var delay = Backoff.After(failures + 1, options.RetryInterval, options.MaxRetryInterval);
                if (failures == 0 || delay == options.MaxRetryInterval)
                {
                    LogWriteFailed(logger, failures + 1, exception.Message, queue.Reader.Count + batch.Count, exception);
                }

                try
                {
                    await Task.Delay(delay, timeProvider, abandon.Token);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lifecycle events cannot be written to PostgreSQL (attempt {Attempt}: {Reason}); {Waiting} events wait in memory and are tried again")]
    private static partial void LogWriteFailed(ILogger logger, int attempt, string reason, int waiting, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lifecycle events are written to PostgreSQL again (failed attempts: {Failures})")]
    private static partial void LogWritingAgain(ILogger logger, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A lifecycle event could not be queued for PostgreSQL: {MaxBufferedEvents} events are already waiting (ModelManager:LifecycleEvents:MaxBufferedEvents), or ModelManager is shutting down. Such events are only in the log and /api/events")]
    private static partial void LogNotQueued(ILogger logger, int maxBufferedEvents);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Events} lifecycle events were not stored in PostgreSQL: the queue was full when they happened")]
    private static partial void LogNotStored(ILogger logger, long events);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown gave up on {Events} lifecycle events that PostgreSQL did not take; they are only in the log")]
    private static partial void LogAbandoned(ILogger logger, int events);
}
