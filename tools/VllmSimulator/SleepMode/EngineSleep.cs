using Microsoft.Extensions.Options;

namespace LlmAspire.VllmSimulator.SleepMode;

/// <summary>
/// vLLM's sleep mode, as a server started with <c>--enable-sleep-mode</c> (and, in vLLM, <c>VLLM_SERVER_DEV_MODE=1</c>)
/// shows it: level 1 offloads the weights to CPU memory and discards the KV cache, level 2 discards both. The engine is
/// asleep while either is not on the GPU, and refuses inference then, as vLLM does. <c>wake_up</c> puts back what its
/// tags name (both without tags); after level 2 the weights are back but empty until <c>reload_weights</c>. Each step
/// takes the configured time; one runs at a time.
/// </summary>
internal sealed class EngineSleep(IOptions<SimulatorOptions> options, TimeProvider time)
{
    public const string Weights = "weights";
    public const string KvCache = "kv_cache";

    private readonly SemaphoreSlim gate = new(1, 1);
    private volatile bool weightsAllocated = true;
    private volatile bool kvCacheAllocated = true;
    private volatile bool weightsLoaded = true;
    private long sleeps;
    private long wakeUps;

    public bool IsSleeping => !(weightsAllocated && kvCacheAllocated);

    /// <summary>Sleep calls answered, as <c>/metrics</c> shows them.</summary>
    public long Sleeps => Interlocked.Read(ref sleeps);

    /// <summary><c>wake_up</c> calls answered.</summary>
    public long WakeUps => Interlocked.Read(ref wakeUps);

    /// <summary>Why an inference request cannot be served now (status and message), or null when it can.</summary>
    public (int Status, string Message)? Refusal() =>
        IsSleeping ? (StatusCodes.Status503ServiceUnavailable, "Engine is sleeping. Call /wake_up to resume.")
        : !weightsLoaded ? (StatusCodes.Status500InternalServerError,
            "The model's weights were discarded by sleep level 2 and not reloaded (POST /collective_rpc {\"method\":\"reload_weights\"}).")
        : null;

    /// <param name="level">1 or 2.</param>
    public Task SleepAsync(int level, CancellationToken cancellationToken) => StepAsync(options.Value.SleepDelayMs, () =>
    {
        // Refused from the start of the step: a request must not run on memory being freed.
        kvCacheAllocated = false;
        weightsAllocated = false;
        weightsLoaded &= level == 1;
    }, () => Interlocked.Increment(ref sleeps), cancellationToken);

    /// <param name="tags"><see cref="Weights"/> and/or <see cref="KvCache"/>; empty for both.</param>
    public Task WakeUpAsync(IReadOnlyCollection<string> tags, CancellationToken cancellationToken) => StepAsync(options.Value.WakeDelayMs, () => { }, () =>
    {
        weightsAllocated |= tags.Count == 0 || tags.Contains(Weights);
        kvCacheAllocated |= tags.Count == 0 || tags.Contains(KvCache);
        Interlocked.Increment(ref wakeUps);
    }, cancellationToken);

    /// <summary>Loads the weights again (after level 2); false when their memory is not allocated yet.</summary>
    public async Task<bool> ReloadWeightsAsync(CancellationToken cancellationToken)
    {
        if (!weightsAllocated)
        {
            return false;
        }

        await StepAsync(options.Value.WakeDelayMs, () => { }, () => weightsLoaded = true, cancellationToken);
        return true;
    }

    private async Task StepAsync(int delayMs, Action begin, Action end, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            begin();
            if (delayMs > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(delayMs), time, cancellationToken);
            }

            end();
        }
        finally
        {
            gate.Release();
        }
    }
}
