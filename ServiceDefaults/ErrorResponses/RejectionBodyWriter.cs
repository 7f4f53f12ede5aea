using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;

namespace LlmAspire.ServiceDefaults.ErrorResponses;

/// <summary>
/// A connection's output as Kestrel writes it. Bytes pass straight through, except after <see cref="ExpectEmptyAnswer"/>:
/// the next answer is then held until it is flushed and, if it is one with <c>Content-Length: 0</c> (Kestrel's own
/// refusal), sent with the JSON body instead; anything else is sent unchanged.
/// </summary>
internal sealed class RejectionBodyWriter(PipeWriter inner) : PipeWriter
{
    private static readonly byte[] EmptyLength = "\r\nContent-Length: 0\r\n"u8.ToArray();
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();

    private ArrayBufferWriter<byte>? held;
    private byte[]? body;

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes + (held?.WrittenCount ?? 0);

    /// <summary>Holds the next answer so that <paramref name="json"/> can be put into it.</summary>
    public void ExpectEmptyAnswer(byte[] json)
    {
        body = json;
        held = new ArrayBufferWriter<byte>(256);
    }

    public override void Advance(int bytes)
    {
        if (held is not null)
        {
            held.Advance(bytes);
        }
        else
        {
            inner.Advance(bytes);
        }
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => held is not null ? held.GetMemory(sizeHint) : inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => held is not null ? held.GetSpan(sizeHint) : inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        Release();
        return inner.FlushAsync(cancellationToken);
    }

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null)
    {
        Release();
        inner.Complete(exception);
    }

    public override ValueTask CompleteAsync(Exception? exception = null)
    {
        Release();
        return inner.CompleteAsync(exception);
    }

    private void Release()
    {
        if (held is null)
        {
            return;
        }

        var answer = held.WrittenSpan;
        var headEnd = answer.IndexOf(HeadEnd);
        var emptyLength = headEnd < 0 ? -1 : answer[..(headEnd + HeadEnd.Length)].IndexOf(EmptyLength);
        if (emptyLength < 0)
        {
            inner.Write(answer);
        }
        else
        {
            // The CRLF that ends the previous header line and the one that ends Content-Length are kept.
            var headers = string.Create(CultureInfo.InvariantCulture, $"\r\nContent-Type: application/json\r\nContent-Length: {body!.Length}\r\n");
            inner.Write(answer[..emptyLength]);
            inner.Write(Encoding.ASCII.GetBytes(headers));
            inner.Write(answer[(emptyLength + EmptyLength.Length)..(headEnd + HeadEnd.Length)]);
            inner.Write(body);
            inner.Write(answer[(headEnd + HeadEnd.Length)..]);
        }

        held = null;
        body = null;
    }
}
