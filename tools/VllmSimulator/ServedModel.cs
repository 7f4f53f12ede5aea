using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading.RateLimiting;
using LlmAspire.VllmSimulator.Generation;

namespace LlmAspire.VllmSimulator;

/// <summary>
/// One served model: its scheduler (running slots plus a FIFO waiting queue, like vLLM's) and the counters that
/// <c>/metrics</c> reports for it.
/// </summary>
public sealed class ServedModel
{
    private readonly ConcurrencyLimiter _scheduler;
    private readonly int _maxConcurrency;
    private long _requestsCompleted;
    private long _promptTokens;
    private long _generationTokens;

    internal ServedModel(string name, int maxConcurrency)
    {
        Name = name;
        _maxConcurrency = maxConcurrency;
        _scheduler = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = maxConcurrency,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        Utf8Name = Encoding.UTF8.GetBytes(name);
        var encoded = JsonEncodedText.Encode(name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        JsonName = encoded;
        QuotedJsonName = [(byte)'"', .. encoded.EncodedUtf8Bytes, (byte)'"'];
        NameHash = TextHash.Of(Utf8Name);
    }

    public string Name { get; }

    /// <summary>Requests holding a running slot.</summary>
    public int Running
    {
        get
        {
            var statistics = _scheduler.GetStatistics();
            return statistics is null ? 0 : _maxConcurrency - (int)statistics.CurrentAvailablePermits;
        }
    }

    /// <summary>Requests queued for a running slot.</summary>
    public int Waiting => (int)(_scheduler.GetStatistics()?.CurrentQueuedCount ?? 0);

    /// <summary>Requests that finished normally (finish_reason stop or length, or an embedding answered).</summary>
    public long RequestsCompleted => Interlocked.Read(ref _requestsCompleted);

    public long PromptTokensTotal => Interlocked.Read(ref _promptTokens);

    public long GenerationTokensTotal => Interlocked.Read(ref _generationTokens);

    internal ConcurrencyLimiter Scheduler => _scheduler;

    internal byte[] Utf8Name { get; }

    internal JsonEncodedText JsonName { get; }

    /// <summary>The name as a JSON string literal, quotes included, for pre-encoded stream chunks.</summary>
    internal byte[] QuotedJsonName { get; }

    internal ulong NameHash { get; }

    internal void AddPromptTokens(int count) => Interlocked.Add(ref _promptTokens, count);

    internal void AddGenerationTokens(int count) => Interlocked.Add(ref _generationTokens, count);

    internal void CountCompleted() => Interlocked.Increment(ref _requestsCompleted);
}
