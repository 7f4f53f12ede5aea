using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// The model server's response body as the gateway reads it. Every read waits under the exchange's current deadline
/// (first byte, idle gap, overall ceiling) and until the shutdown's grace period ends, and records the first byte.
/// When a deadline passes or the server breaks off, a server-sent event stream ends with an error event and
/// <c>data: [DONE]</c>, as vLLM ends a stream that fails, instead of a cut connection or half an event; a plain JSON
/// body cannot be repaired and is cut. What passes is looked at by <see cref="UpstreamBodyObserver"/>.
/// </summary>
internal sealed class UpstreamResponseStream : Stream
{
    private readonly Stream inner;
    private readonly UpstreamExchange exchange;
    private readonly bool eventStream;
    private readonly UpstreamDeadline deadline;
    private readonly UpstreamBodyObserver observer;

    // A synthesized ending (error event) still to be handed out.
    private byte[]? ending;
    private int endingOffset;
    private bool completed;

    public UpstreamResponseStream(Stream inner, UpstreamExchange exchange, bool eventStream, UpstreamDeadline deadline)
    {
        this.inner = inner;
        this.exchange = exchange;
        this.eventStream = eventStream;
        this.deadline = deadline;
        observer = new UpstreamBodyObserver(exchange, eventStream);
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
            var restored = observer.RestoreHeld(buffer.Span);
            var read = await ReadInnerAsync(buffer[restored..], cancellationToken);
            if (read is null)
            {
                return DrainEnding(buffer.Span);
            }

            if (read == 0)
            {
                var flushed = restored + observer.EndOfBody(buffer.Span[restored..]);
                completed = !observer.HoldsBytes;
                return flushed;
            }

            exchange.MarkFirstByte();
            var length = observer.Observe(buffer.Span, restored, read.Value);
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
            deadline.Dispose();
            observer.Release();
        }

        base.Dispose(disposing);
    }

    /// <summary>Reads from the server under the current deadline; null when the exchange failed and an ending was prepared.</summary>
    private async ValueTask<int?> ReadInnerAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        deadline.MoveTo(exchange.NextReadBudget());
        deadline.EndWith(cancellationToken);
        try
        {
            return await inner.ReadAsync(buffer, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && deadline.IsExpired)
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
        observer.DropHeld();
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
}
