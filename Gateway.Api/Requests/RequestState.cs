namespace LlmAspire.Gateway.Api.Requests;

/// <summary>
/// Everything the gateway learns about one request on its way through, in one place: who calls (authentication),
/// which model it names (the body), how the cache answered, the upstream exchange once it is forwarded, and how it
/// ended. Each step writes what it finds out; the ledger, the rate limiter and the metrics read it when the request
/// ends. Travels as a request feature.
/// </summary>
internal sealed class RequestState
{
    private const int ClientClosedRequest = 499;

    private Guid? requestId;

    /// <summary>
    /// Generated here, before the ledger row is first written, so that writing it twice stores it once; on first use,
    /// since only the ledger needs it (each id costs a read of the kernel's random source).
    /// </summary>
    public Guid RequestId => requestId ??= Guid.CreateVersion7();

    /// <summary>Who is calling; <see cref="CallerIdentity.Anonymous"/> unless an API key said otherwise.</summary>
    public CallerIdentity Caller { get; set; } = CallerIdentity.Anonymous;

    /// <summary>The model id as the client sent it, once the body has been read.</summary>
    public string? Model { get; set; }

    public bool Cached { get; set; }

    /// <summary>Usage of an answer served from the cache; forwarded answers report theirs on <see cref="Upstream"/>.</summary>
    public TokenUsage? CachedUsage { get; set; }

    /// <summary>The call to the model server, from the moment the request is forwarded.</summary>
    public UpstreamExchange? Upstream { get; set; }

    /// <summary>
    /// The status an error stood for when the gateway itself ended a stream already answered with 200 with it (a model
    /// that failed to load while the client heard <c>: loading</c> comments); null otherwise.
    /// </summary>
    public int? EndedWithStatus { get; set; }

    /// <summary>
    /// Tokens the request consumed, from the cache or from the model server (what a broken stream delivered when the
    /// server could not report it); null when nothing was answered.
    /// </summary>
    public TokenUsage? Usage => Cached ? CachedUsage : Upstream?.BilledUsage;

    /// <summary>The state of the current request, created on first use.</summary>
    public static RequestState Of(HttpContext context)
    {
        var state = context.Features.Get<RequestState>();
        if (state is null)
        {
            state = new RequestState();
            context.Features.Set(state);
        }

        return state;
    }

    /// <summary>
    /// The status the request ended with: 499 when the client went away, the status of the error event that ended a
    /// stream answered with 200, otherwise the response's.
    /// </summary>
    public int Outcome(HttpContext context) => context.RequestAborted.IsCancellationRequested
        ? ClientClosedRequest
        : EndedWithStatus ?? Upstream?.EndedWithStatus ?? context.Response.StatusCode;
}
