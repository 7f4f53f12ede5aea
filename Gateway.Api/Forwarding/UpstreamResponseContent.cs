using System.Net;
using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>Carries the upstream's content headers while handing out the body through <see cref="UpstreamResponseStream"/>.</summary>
internal sealed class UpstreamResponseContent : HttpContent
{
    private readonly HttpContent inner;
    private readonly UpstreamExchange exchange;
    private readonly bool eventStream;
    private readonly UpstreamDeadline deadline;

    public UpstreamResponseContent(HttpContent inner, UpstreamExchange exchange, bool eventStream, UpstreamDeadline deadline)
    {
        this.inner = inner;
        this.exchange = exchange;
        this.eventStream = eventStream;
        this.deadline = deadline;
        foreach (var header in inner.Headers)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        if (eventStream)
        {
            // Events may be dropped (the usage chunk) or added (an error ending), so the length can change.
            Headers.ContentLength = null;
        }
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new UpstreamResponseStream(await inner.ReadAsStreamAsync(cancellationToken), exchange, eventStream, deadline);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var body = await CreateContentReadStreamAsync(cancellationToken);
        await body.CopyToAsync(stream, cancellationToken);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            deadline.Dispose();
        }

        base.Dispose(disposing);
    }
}
