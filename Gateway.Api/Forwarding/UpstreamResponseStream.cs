using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// The model server's response body as the gateway reads it. It enforces the first-byte, idle-gap and overall
/// deadlines and the end of the shutdown's grace period on every read, records the first byte and the token usage
/// (reported, or delivered when a stream ends without a report), and — for server-sent event streams — hands out
/// whole events only, so that when the server fails mid-stream the client receives an error event and a clean end
/// of stream instead of a cut connection or half an event.
/// </summary>
internal sealed class UpstreamResponseStream : Stream
{
    private const int TailSize = 2048;
    private static readonly byte[] EventSeparator = "\n\n"u8.ToArray();

    private readonly Stream inner;
    private readonly UpstreamExchange exchange;
    private readonly bool eventStream;
    private readonly CancellationTokenSource deadline;

    private CancellationTokenSource? linked;
    private CancellationToken linkedFor;

    // Bytes of an event whose end has not arrived yet (event streams only).
    private byte[]? held;
    private int heldLength;

    // A synthesized ending (error event) still to be handed out.
    private byte[]? ending;
    private int endingOffset;
    private bool completed;

    // The last bytes of a plain (non-stream) body, where the usage object sits.
    private byte[]? tail;
    private int tailLength;

    public UpstreamResponseStream(Stream inner, UpstreamExchange exchange, bool eventStream, CancellationTokenSource deadline)
    {
        this.inner = inner;
        this.exchange = exchange;
        this.eventStream = eventStream;
        this.deadline = deadline;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (ending is not null)
        {
            return DrainEnding(buffer.Span);
        }

        if (completed)
        {
            return 0;
        }

        if (buffer.IsEmpty)
        {
            // A zero-byte read waits for data without committing a buffer (YARP issues one before every read).
            return await ReadInnerAsync(buffer, cancellationToken) ?? 0;
        }

        while (true)
        {
            var offset = 0;
            if (heldLength > 0 && heldLength <= buffer.Length / 2)
            {
                held.AsSpan(0, heldLength).CopyTo(buffer.Span);
                offset = heldLength;
                heldLength = 0;
            }

            var read = await ReadInnerAsync(buffer[offset..], cancellationToken);
            if (read is null)
            {
                return DrainEnding(buffer.Span);
            }

            if (read == 0)
            {
                OnEndOfBody();
                // A stream that ended without a separator keeps its last bytes as the server sent them.
                var flushed = offset + TakeHeld(buffer.Span[offset..]);
                completed = heldLength == 0;
                return flushed;
            }

            exchange.MarkFirstByte();
            // The copy is taken before the usage chunk the client did not ask for is dropped: the cache keeps it.
            exchange.Capture?.Append(buffer.Span.Slice(offset, read.Value));
            var length = offset + read.Value;
            length = eventStream ? TakeWholeEvents(buffer.Span, length) : ObserveTail(buffer.Span[..length]);
            if (length > 0)
            {
                return length;
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            linked?.Dispose();
            deadline.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Reads from the server under the current deadline; null when the exchange failed and an ending was prepared.</summary>
    private async ValueTask<int?> ReadInnerAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        deadline.CancelAfter(exchange.NextReadBudget());
        if (linked is null || linkedFor != cancellationToken)
        {
            linked?.Dispose();
            linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token, exchange.ShutdownGraceOver);
            linkedFor = cancellationToken;
        }

        try
        {
            return await inner.ReadAsync(buffer, linked.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested
            && (deadline.IsCancellationRequested || exchange.ShutdownGraceOver.IsCancellationRequested))
        {
            return Fail(exchange.ClassifyTimeout());
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            return Fail(UpstreamFailure.StreamBroken, exception);
        }
    }

    private int? Fail(UpstreamFailure failure, Exception? exception = null)
    {
        exchange.Failure = failure;
        inner.Dispose();
        if (!eventStream)
        {
            // A plain JSON body cut short cannot be repaired; the forwarder aborts the client connection.
            throw exception as IOException ?? new IOException(exchange.DescribeFailure(), exception);
        }

        // Whatever partial event was held is dropped: the client gets whole events, then the error, then [DONE].
        heldLength = 0;
        var error = exchange.FailureError();
        exchange.EndedWithStatus = error.Status;
        ending = error.ToServerSentEvents();
        return null;
    }

    private int DrainEnding(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, ending!.Length - endingOffset);
        ending.AsSpan(endingOffset, count).CopyTo(buffer);
        endingOffset += count;
        if (endingOffset == ending.Length)
        {
            ending = null;
            completed = true;
        }

        return count;
    }

    /// <summary>Keeps back a trailing partial event and looks into complete ones for usage; returns the bytes to hand out.</summary>
    private int TakeWholeEvents(Span<byte> buffer, int length)
    {
        var boundary = buffer[..length].LastIndexOf(EventSeparator);
        var complete = boundary < 0 ? 0 : boundary + EventSeparator.Length;
        var partial = length - complete;
        if (partial > 0)
        {
            if (partial > buffer.Length / 2)
            {
                // An event larger than half a buffer is passed through as it comes rather than held.
                complete = length;
            }
            else
            {
                held ??= new byte[buffer.Length / 2];
                buffer[complete..length].CopyTo(held);
                heldLength = partial;
            }
        }

        return ObserveEvents(buffer, complete);
    }

    /// <summary>
    /// Looks at each complete event once: a usage report (dropped when only the gateway asked for it), an error the
    /// server ends the stream with (its status is kept for the ledger), or generated text (counted, for the usage of a
    /// stream that ends without a report). Returns the bytes to hand out.
    /// </summary>
    private int ObserveEvents(Span<byte> buffer, int length)
    {
        var start = 0;
        while (start < length)
        {
            var separator = buffer[start..length].IndexOf(EventSeparator);
            var end = separator < 0 ? length : start + separator + EventSeparator.Length;
            var serverSentEvent = buffer[start..end];
            if (serverSentEvent.IndexOf("\"usage\""u8) >= 0 && TokenUsage.TryReadEvent(serverSentEvent, out var usage, out var usageOnly))
            {
                exchange.Usage = usage;
                if (usageOnly && !exchange.ClientRequestedUsage)
                {
                    // The gateway asked for this chunk for its own accounting; the client did not.
                    buffer[end..length].CopyTo(buffer[start..]);
                    length -= end - start;
                    continue;
                }
            }
            else if (StreamEvents.ErrorStatus(serverSentEvent) is { } status)
            {
                exchange.EndedWithStatus = status;
            }
            else if (StreamEvents.CarriesText(serverSentEvent))
            {
                exchange.DeliveredTokens++;
            }

            start = end;
        }

        return length;
    }

    private int ObserveTail(ReadOnlySpan<byte> data)
    {
        tail ??= new byte[TailSize];
        if (data.Length >= TailSize)
        {
            data[^TailSize..].CopyTo(tail);
            tailLength = TailSize;
        }
        else
        {
            var keep = Math.Min(tailLength, TailSize - data.Length);
            tail.AsSpan(tailLength - keep, keep).CopyTo(tail);
            data.CopyTo(tail.AsSpan(keep));
            tailLength = keep + data.Length;
        }

        return data.Length;
    }

    private int TakeHeld(Span<byte> buffer)
    {
        var count = Math.Min(heldLength, buffer.Length);
        held.AsSpan(0, count).CopyTo(buffer);
        held.AsSpan(count, heldLength - count).CopyTo(held);
        heldLength -= count;
        return count;
    }

    private void OnEndOfBody()
    {
        if (eventStream || tail is null)
        {
            return;
        }

        var body = tail.AsSpan(0, tailLength);
        var key = body.LastIndexOf("\"usage\""u8);
        if (key < 0)
        {
            return;
        }

        var brace = body[key..].IndexOf((byte)'{');
        if (brace >= 0 && TokenUsage.TryRead(body[(key + brace)..], out var usage))
        {
            exchange.Usage = usage;
        }
    }
}
