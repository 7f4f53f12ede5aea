using System.Threading.RateLimiting;
using LlmAspire.Gateway.Configuration;

namespace LlmAspire.Gateway.Admission;

/// <summary>The outcome of asking for a slot.</summary>
public enum AdmissionResult
{
    Admitted,
    QueueFull,
    QueueTimeout,
}

/// <summary>
/// One model's admission queue: at most <see cref="ModelOptions.MaxConcurrent"/> requests forwarded at once and at
/// most <see cref="ModelOptions.MaxQueue"/> waiting, oldest first. In-flight and queued counts are read from the
/// limiter, never kept beside it, so cancellation cannot make them drift.
/// </summary>
public sealed class AdmissionQueue : IDisposable
{
    private readonly ConcurrencyLimiter limiter;
    private readonly TimeProvider timeProvider;
    private readonly TimeSpan queueTimeout;
    private readonly Action? busyChanged;

    // Slots held, only to notice the 0 → 1 and 1 → 0 steps; the counts that are reported come from the limiter.
    private int held;
    private long lastEndedTimestamp;

    // Recent service time per request (exponentially weighted), for Retry-After estimates.
    private long averageServiceTicks = TimeSpan.TicksPerSecond;

    public AdmissionQueue(string model, ModelOptions options, TimeProvider timeProvider, Action? busyChanged = null)
    {
        Model = model;
        this.busyChanged = busyChanged;
        lastEndedTimestamp = timeProvider.GetTimestamp();
        MaxConcurrent = options.MaxConcurrent;
        queueTimeout = options.QueueTimeout;
        this.timeProvider = timeProvider;
        limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.MaxConcurrent,
            QueueLimit = options.MaxQueue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public string Model { get; }

    public int MaxConcurrent { get; }

    public long InFlight => MaxConcurrent - (limiter.GetStatistics()?.CurrentAvailablePermits ?? MaxConcurrent);

    public long Queued => limiter.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>Time since a request of this model last ended (or since the queue was created), whatever is in flight now.</summary>
    public TimeSpan SinceLastEnded => timeProvider.GetElapsedTime(Volatile.Read(ref lastEndedTimestamp));

    /// <summary>
    /// Waits for a slot until one frees up, the queue timeout passes, or <paramref name="requestAborted"/> fires (then
    /// it throws). A slot must be disposed: that is what frees it, whatever way the request ends.
    /// </summary>
    public async ValueTask<(AdmissionResult Result, AdmissionSlot? Slot)> EnterAsync(CancellationToken requestAborted)
    {
        var lease = limiter.AttemptAcquire();
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
            timeout.CancelAfter(queueTimeout);
            try
            {
                lease = await limiter.AcquireAsync(1, timeout.Token);
            }
            catch (OperationCanceledException) when (!requestAborted.IsCancellationRequested)
            {
                return (AdmissionResult.QueueTimeout, null);
            }

            if (!lease.IsAcquired)
            {
                lease.Dispose();
                return (AdmissionResult.QueueFull, null);
            }
        }

        if (Interlocked.Increment(ref held) == 1)
        {
            busyChanged?.Invoke();
        }

        return (AdmissionResult.Admitted, new AdmissionSlot(this, lease, timeProvider.GetTimestamp()));
    }

    /// <summary>How long until a slot is likely free for one more request, from recent service times.</summary>
    public TimeSpan EstimateRetryAfter()
    {
        var waves = (Queued + MaxConcurrent) / (double)MaxConcurrent;
        var estimate = TimeSpan.FromTicks((long)(Interlocked.Read(ref averageServiceTicks) * waves));
        return estimate < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : estimate > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : estimate;
    }

    public void Dispose() => limiter.Dispose();

    internal void Release(RateLimitLease lease, long admittedAt)
    {
        lease.Dispose();
        var now = timeProvider.GetTimestamp();
        Volatile.Write(ref lastEndedTimestamp, now);
        if (Interlocked.Decrement(ref held) == 0)
        {
            busyChanged?.Invoke();
        }

        var served = timeProvider.GetElapsedTime(admittedAt, now).Ticks;
        var average = Interlocked.Read(ref averageServiceTicks);
        // A lost update under contention only delays the average by one sample.
        Interlocked.Exchange(ref averageServiceTicks, average + ((served - average) / 8));
    }
}

/// <summary>A held admission slot; disposing it frees the slot exactly once.</summary>
public sealed class AdmissionSlot(AdmissionQueue queue, RateLimitLease lease, long admittedAt) : IDisposable
{
    private int released;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
        {
            queue.Release(lease, admittedAt);
        }
    }
}
