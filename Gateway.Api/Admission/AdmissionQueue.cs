using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Admission;

/// <summary>The outcome of asking for a slot.</summary>
internal enum AdmissionResult
{
    Admitted,
    QueueFull,
    QueueTimeout,
}

/// <summary>
/// One model's admission queue: at most <see cref="ModelOptions.MaxConcurrent"/> requests forwarded at once and at
/// most <see cref="ModelOptions.MaxQueue"/> waiting, served round-robin across API keys (<see cref="FairShareLimiter"/>),
/// so one key's burst does not hold back every other key's requests. Slots held and requests waiting for one are read
/// from the limiter, never kept beside it, so cancellation cannot make them drift; the one count kept here, slots
/// whose request waits for its model to load, is taken back by the slot itself however the request ends.
/// </summary>
internal sealed class AdmissionQueue
{
    private readonly FairShareLimiter limiter;
    private readonly TimeProvider timeProvider;
    private readonly Action? busyChanged;
    private long queueTimeoutTicks;

    // Slots held and requests waiting for one, only to notice the 0 → 1 and 1 → 0 steps; the counts that are
    // reported come from the limiter.
    private int held;
    private int waiting;

    // Slots held by requests whose model is still loading: they count as queued, not in flight.
    private int loading;
    private long lastEndedTimestamp;

    // Recent service time per request (exponentially weighted), for Retry-After estimates.
    private long averageServiceTicks = TimeSpan.TicksPerSecond;

    public AdmissionQueue(string model, ModelOptions options, TimeProvider timeProvider, Action? busyChanged = null)
    {
        Model = model;
        this.busyChanged = busyChanged;
        lastEndedTimestamp = timeProvider.GetTimestamp();
        queueTimeoutTicks = options.QueueTimeout.Ticks;
        this.timeProvider = timeProvider;
        limiter = new FairShareLimiter(options.MaxConcurrent, options.MaxQueue);
    }

    public string Model { get; }

    public int MaxConcurrent => limiter.PermitLimit;

    /// <summary>Requests forwarded to the model server: holding a slot, their model ready.</summary>
    public long InFlight
    {
        get
        {
            // Slots first: a loading slot is freed before its mark is taken back, so a release never shows it in
            // flight. (Between a slot being granted and marked it does, for a few instructions; the next report mends it.)
            return Math.Max(0, limiter.Held - Volatile.Read(ref loading));
        }
    }

    /// <summary>Requests waiting: for a slot, or holding one while their model loads.</summary>
    public long Queued => WaitingForSlot + Volatile.Read(ref loading);

    private long WaitingForSlot => limiter.Waiting;

    /// <summary>Time since a request of this model last ended (or since the queue was created), whatever is in flight now.</summary>
    public TimeSpan SinceLastEnded => timeProvider.GetElapsedTime(Volatile.Read(ref lastEndedTimestamp));

    /// <summary>
    /// Waits for a slot, in <paramref name="caller"/>'s turn among the API keys waiting, until one frees up, the queue
    /// timeout passes, or <paramref name="requestAborted"/> fires (then it throws). A slot must be disposed: that is
    /// what frees it, whatever way the request ends. With <paramref name="modelLoading"/> the request counts as queued
    /// until <see cref="AdmissionSlot.ModelReady"/>.
    /// </summary>
    public async ValueTask<(AdmissionResult Result, AdmissionSlot? Slot)> EnterAsync(
        CallerIdentity caller, CancellationToken requestAborted, bool modelLoading = false, CancellationToken shutdownGraceOver = default)
    {
        if (!limiter.TryAcquire())
        {
            // Only a request that has to wait pays for a timer and linked tokens.
            using var timeout = new CancellationTokenSource(TimeSpan.FromTicks(Volatile.Read(ref queueTimeoutTicks)), timeProvider);
            using var waitEnds = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, shutdownGraceOver, timeout.Token);
            Step(ref waiting, +1);
            try
            {
                if (!await limiter.AcquireAsync(caller.QueueKey, caller.QueueWeight, waitEnds.Token))
                {
                    return (AdmissionResult.QueueFull, null);
                }
            }
            catch (OperationCanceledException) when (!requestAborted.IsCancellationRequested && !shutdownGraceOver.IsCancellationRequested)
            {
                return (AdmissionResult.QueueTimeout, null);
            }
            finally
            {
                Step(ref waiting, -1);
            }
        }

        if (modelLoading)
        {
            Step(ref loading, +1);
        }

        Step(ref held, +1);
        return (AdmissionResult.Admitted, new AdmissionSlot(this, timeProvider.GetTimestamp(), modelLoading));
    }

    /// <summary>What a request the queue refused is told (429 when it is full, 503 when no slot freed in time) and when to come back.</summary>
    public (OpenAiError Error, TimeSpan RetryAfter) Refusal(AdmissionResult result)
    {
        var retryAfter = EstimateRetryAfter();
        var seconds = OpenAiError.RetryAfterSeconds(retryAfter);
        var error = result == AdmissionResult.QueueFull
            ? new OpenAiError(StatusCodes.Status429TooManyRequests,
                $"Model '{Model}' is at capacity ({InFlight} running, {Queued} waiting). Retry after {seconds} s.",
                "rate_limit_error", null, "model_queue_full")
            : new OpenAiError(StatusCodes.Status503ServiceUnavailable,
                $"Model '{Model}' did not free a slot within its queue timeout. Retry after {seconds} s.",
                "server_error", null, "model_queue_timeout");
        return (error, retryAfter);
    }

    /// <summary>
    /// Takes the model's current limits; returns whether they differ from the ones it had. Requests holding a slot keep
    /// it and waiting ones keep their place: more slots admit waiters at once, fewer admit nobody until enough are freed,
    /// and a shorter queue only refuses newcomers. A new queue timeout applies to requests that start waiting from now.
    /// </summary>
    public bool Apply(ModelOptions options)
    {
        var changed = Interlocked.Exchange(ref queueTimeoutTicks, options.QueueTimeout.Ticks) != options.QueueTimeout.Ticks;
        if (options.MaxConcurrent == limiter.PermitLimit && options.MaxQueue == limiter.QueueLimit)
        {
            return changed;
        }

        limiter.SetLimits(options.MaxConcurrent, options.MaxQueue);
        return true;
    }

    internal void ModelReady() => Step(ref loading, -1);

    /// <summary>How long until a slot is likely free for one more request, from recent service times.</summary>
    private TimeSpan EstimateRetryAfter()
    {
        var waves = (WaitingForSlot + MaxConcurrent) / (double)MaxConcurrent;
        var estimate = TimeSpan.FromTicks((long)(Interlocked.Read(ref averageServiceTicks) * waves));
        return estimate < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : estimate > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : estimate;
    }

    /// <summary>Moves one count and raises <c>busyChanged</c> when it goes from 0 to 1 or back.</summary>
    private void Step(ref int count, int by)
    {
        var now = Interlocked.Add(ref count, by);
        if (now == 0 || (now == 1 && by > 0))
        {
            busyChanged?.Invoke();
        }
    }

    internal void Release(long admittedAt, bool stillLoading)
    {
        limiter.Release();
        var now = timeProvider.GetTimestamp();
        Volatile.Write(ref lastEndedTimestamp, now);
        Step(ref held, -1);
        if (stillLoading)
        {
            // After the slot is free, so that InFlight never sees the slot without its loading mark.
            ModelReady();
        }

        var served = timeProvider.GetElapsedTime(admittedAt, now).Ticks;
        var average = Interlocked.Read(ref averageServiceTicks);
        // A lost update under contention only delays the average by one sample.
        Interlocked.Exchange(ref averageServiceTicks, average + ((served - average) / 8));
    }
}

/// <summary>A held admission slot; disposing it frees the slot exactly once.</summary>
internal sealed class AdmissionSlot(AdmissionQueue queue, long admittedAt, bool modelLoading) : IDisposable
{
    private int released;
    private int loading = modelLoading ? 1 : 0;

    /// <summary>The model has loaded: the request now counts as in flight instead of queued.</summary>
    public void ModelReady()
    {
        if (Interlocked.Exchange(ref loading, 0) == 1)
        {
            queue.ModelReady();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
        {
            queue.Release(admittedAt, Interlocked.Exchange(ref loading, 0) == 1);
        }
    }
}
