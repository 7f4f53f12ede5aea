using System.Buffers;
using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// Looks at a model server's answer as <see cref="UpstreamResponseStream"/> hands it out, for accounting and the cache.
/// It copies the bytes for the cache, then either frames an event stream into whole events (keeping back a trailing
/// partial one) and looks at each once, or keeps the tail of a plain JSON body, where its <c>usage</c> object sits,
/// and reads that at the end.
/// </summary>
internal sealed class UpstreamBodyObserver(UpstreamExchange exchange, bool eventStream)
{
    private const int TailSize = 2048;
    private static readonly byte[] EventSeparator = "\n\n"u8.ToArray();

    // Bytes of an event whose end has not arrived yet (event streams only).
    private byte[]? held;
    private int heldLength;

    // The last bytes of a plain (non-stream) body, in a pooled buffer: every non-streaming answer needs one.
    private byte[]? tail;
    private int tailLength;

    /// <summary>Whether bytes of an unfinished event are still held back.</summary>
    public bool HoldsBytes => heldLength > 0;

    /// <summary>Moves the held bytes to the start of <paramref name="buffer"/> when they fill at most half of it; returns how many it moved.</summary>
    public int RestoreHeld(Span<byte> buffer)
    {
        if (heldLength == 0 || heldLength > buffer.Length / 2)
        {
            return 0;
        }

        held.AsSpan(0, heldLength).CopyTo(buffer);
        var restored = heldLength;
        heldLength = 0;
        return restored;
    }

    /// <summary>
    /// Takes <paramref name="read"/> bytes just read into <paramref name="buffer"/> after <paramref name="restored"/>
    /// held ones; returns how many bytes from the start of the buffer to hand out.
    /// </summary>
    public int Observe(Span<byte> buffer, int restored, int read)
    {
        // The copy is taken before the usage chunk the client did not ask for is dropped: the cache keeps it.
        exchange.Capture?.Append(buffer.Slice(restored, read));
        var length = restored + read;
        return eventStream ? TakeWholeEvents(buffer, length) : ObserveTail(buffer[..length]);
    }

    /// <summary>
    /// At the end of the body: reads a plain body's usage, and hands out what is held of a stream that ended without a
    /// separator (its last bytes as the server sent them); returns how many bytes it put into <paramref name="buffer"/>.
    /// </summary>
    public int EndOfBody(Span<byte> buffer)
    {
        ReadTailUsage();
        var count = Math.Min(heldLength, buffer.Length);
        held.AsSpan(0, count).CopyTo(buffer);
        held.AsSpan(count, heldLength - count).CopyTo(held);
        heldLength -= count;
        return count;
    }

    /// <summary>Gives the pooled tail buffer back; the observer sees no more bytes after this.</summary>
    public void Release()
    {
        if (tail is { } buffer)
        {
            tail = null;
            tailLength = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Drops a held partial event when the stream fails: the client gets whole events, then the error ending.</summary>
    public void DropHeld() => heldLength = 0;

    /// <summary>Keeps back a trailing partial event and looks into complete ones; returns the bytes to hand out.</summary>
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
        tail ??= ArrayPool<byte>.Shared.Rent(TailSize);
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

    private void ReadTailUsage()
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
