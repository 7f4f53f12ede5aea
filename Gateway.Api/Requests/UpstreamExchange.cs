using LlmAspire.Gateway.Api.OpenAi;

namespace LlmAspire.Gateway.Api.Requests;

/// <summary>Why an upstream exchange ended early, when it did.</summary>
internal enum UpstreamFailure
{
    None,
    Unreachable,
    FirstByteTimeout,
    StreamIdleTimeout,
    RequestTimeout,
    StreamBroken,

    /// <summary>The model server answered with an error status (seen as such only where the response was already started).</summary>
    ErrorStatus,

    /// <summary>The gateway's shutdown grace period ended first.</summary>
    ShuttingDown,
}

/// <summary>
/// The upstream leg of a request's state (<see cref="RequestState.Upstream"/>): where it was sent, how long each
/// part took, what the model server reported and how the exchange ended. Written by the pieces of the forwarding
/// layer (policy handler, response stream and its observer) and read back for metrics, the cache and accounting.
/// </summary>
internal sealed class UpstreamExchange(
    ModelRoute route, InferenceOperation operation, bool streaming, bool clientRequestedUsage, TimeProvider timeProvider, CancellationToken shutdownGraceOver)
{
    public static readonly HttpRequestOptionsKey<UpstreamExchange> OptionsKey = new("LlmAspire.UpstreamExchange");

    /// <summary>Where the request goes; a managed model's route changes when a refused connect has it started again.</summary>
    public ModelRoute Route { get; set; } = route;

    public InferenceOperation Operation { get; } = operation;

    public bool Streaming { get; } = streaming;

    /// <summary>When false, the usage-only chunk the gateway asked for is kept from the client.</summary>
    public bool ClientRequestedUsage { get; } = clientRequestedUsage;

    public TimeProvider TimeProvider { get; } = timeProvider;

    /// <summary>Fires when the gateway's shutdown grace period is over: the exchange then ends as <see cref="UpstreamFailure.ShuttingDown"/>.</summary>
    public CancellationToken ShutdownGraceOver { get; } = shutdownGraceOver;

    public long StartTimestamp { get; } = timeProvider.GetTimestamp();

    public long FirstByteTimestamp { get; private set; }

    /// <summary>Usage the model server reported (the usage chunk of a stream, the <c>usage</c> of a whole answer).</summary>
    public TokenUsage? Usage { get; set; }

    /// <summary>Events with generated text handed to the client; vLLM streams one token per event.</summary>
    public long DeliveredTokens { get; set; }

    /// <summary>
    /// Usage to account for: what the model server reported, or, for a stream that ended without reporting it (the
    /// server failed or was cut off mid-stream), the tokens delivered until then; prompt tokens are then unknown.
    /// </summary>
    public TokenUsage? BilledUsage => Usage ?? (DeliveredTokens > 0 ? new TokenUsage(0, DeliveredTokens) : null);

    /// <summary>
    /// The status an error event stands for when it ended a stream already answered with 200: the model server's own
    /// (vLLM's in-stream error) or the gateway's (server gone, silent, shutting down); null for a stream that ended well.
    /// </summary>
    public int? EndedWithStatus { get; set; }

    /// <summary>The body sent to the model server (the client's, with the gateway's usage request added to a stream's).</summary>
    public ReadOnlyMemory<byte> RequestBody { get; init; }

    /// <summary>Receives a copy of the response body as it is read, when the answer is to be cached.</summary>
    public ResponseCapture? Capture { get; set; }

    public UpstreamFailure Failure { get; set; }

    public int ConnectAttempts { get; set; }

    /// <summary>Why a managed model could not be brought back after its server refused connections (answered as 503).</summary>
    public OpenAiError? Unavailable { get; set; }

    public TimeSpan? UnavailableRetryAfter { get; set; }

    public TimeSpan? TimeToFirstByte => FirstByteTimestamp == 0 ? null : TimeProvider.GetElapsedTime(StartTimestamp, FirstByteTimestamp);

    public TimeSpan Elapsed => TimeProvider.GetElapsedTime(StartTimestamp);

    public void MarkFirstByte()
    {
        if (FirstByteTimestamp == 0)
        {
            FirstByteTimestamp = TimeProvider.GetTimestamp();
        }
    }

    /// <summary>How long the next wait for upstream bytes may last: the first-byte or idle budget, capped by the overall one.</summary>
    public TimeSpan NextReadBudget()
    {
        var options = Route.Options;
        var remaining = options.RequestTimeout - Elapsed;
        var budget = FirstByteTimestamp == 0 ? options.FirstByteTimeout - Elapsed : options.StreamIdleTimeout;
        return TimeSpan.FromTicks(Math.Max(1, Math.Min(budget.Ticks, remaining.Ticks)));
    }

    /// <summary>Names the limit that ran out (or the shutdown), given that the deadline from <see cref="NextReadBudget"/> or the shutdown fired.</summary>
    public UpstreamFailure ClassifyTimeout() =>
        ShutdownGraceOver.IsCancellationRequested ? UpstreamFailure.ShuttingDown
        : Elapsed >= Route.Options.RequestTimeout ? UpstreamFailure.RequestTimeout
        : FirstByteTimestamp == 0 ? UpstreamFailure.FirstByteTimeout
        : UpstreamFailure.StreamIdleTimeout;
}
