using LlmAspire.Gateway.Api.Forwarding;

namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>
/// What one inference request used, filled in along the request path (model once parsed, usage from the model server
/// or from a cached answer) and read when it ends by the ledger and the rate limiter. Travels as a request feature.
/// </summary>
internal sealed class UsageRecord
{
    private const int ClientClosedRequest = 499;

    /// <summary>Generated here, before the row is first written, so that writing it twice stores it once.</summary>
    public Guid RequestId { get; } = Guid.CreateVersion7();

    public string? Model { get; set; }

    /// <summary>Usage of an answer served from the cache; forwarded answers report theirs on the upstream exchange.</summary>
    public TokenUsage? CachedUsage { get; set; }

    public bool Cached { get; set; }

    /// <summary>
    /// The status an error stood for when it reached the client as an event of a stream already answered with 200
    /// (a model that failed to load while the client heard <c>: loading</c> comments); null otherwise.
    /// </summary>
    public int? Status { get; set; }

    /// <summary>The record of the current request, created on first use.</summary>
    public static UsageRecord For(HttpContext context)
    {
        var record = context.Features.Get<UsageRecord>();
        if (record is null)
        {
            record = new UsageRecord();
            context.Features.Set(record);
        }

        return record;
    }

    /// <summary>
    /// Tokens the request consumed, from the cache or from the model server (what a broken stream delivered when the
    /// server could not report it); null when nothing was answered.
    /// </summary>
    public TokenUsage? Usage(HttpContext context) => Cached ? CachedUsage : context.Features.Get<UpstreamExchange>()?.BilledUsage;

    /// <summary>
    /// The status the request ended with: 499 when the client went away, the status of the error event that ended a
    /// stream answered with 200, otherwise the response's.
    /// </summary>
    public int Outcome(HttpContext context) => context.RequestAborted.IsCancellationRequested
        ? ClientClosedRequest
        : Status ?? context.Features.Get<UpstreamExchange>()?.EndedWithStatus ?? context.Response.StatusCode;
}
