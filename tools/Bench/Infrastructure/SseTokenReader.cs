namespace LlmAspire.Bench.Infrastructure;

/// <summary>
/// Splits a server-sent event stream into events as its bytes arrive (an event may span reads, a read may hold several
/// events) and tells which completed events carry a token: a <c>data:</c> event with non-empty <c>content</c> (chat)
/// or <c>text</c> (completions). The assistant-role event with empty content, comments and <c>[DONE]</c> are not
/// tokens. One instance per worker, <see cref="Reset"/> between streams.
/// </summary>
internal sealed class SseTokenReader
{
    private byte[] pending = new byte[16 * 1024];
    private int length;

    public int Tokens { get; private set; }

    public bool Done { get; private set; }

    public void Reset()
    {
        length = 0;
        Tokens = 0;
        Done = false;
    }

    /// <summary>Takes the next bytes of the stream; returns how many token events they completed.</summary>
    public int Feed(ReadOnlySpan<byte> chunk)
    {
        if (length + chunk.Length > pending.Length)
        {
            Array.Resize(ref pending, Math.Max(pending.Length * 2, length + chunk.Length));
        }

        chunk.CopyTo(pending.AsSpan(length));
        length += chunk.Length;

        var tokens = 0;
        var consumed = 0;
        int end;
        while ((end = pending.AsSpan(consumed, length - consumed).IndexOf("\n\n"u8)) >= 0)
        {
            if (IsToken(pending.AsSpan(consumed, end)))
            {
                tokens++;
            }

            consumed += end + 2;
        }

        pending.AsSpan(consumed, length - consumed).CopyTo(pending);
        length -= consumed;
        Tokens += tokens;
        return tokens;
    }

    private bool IsToken(ReadOnlySpan<byte> sseEvent)
    {
        foreach (var range in sseEvent.Split((byte)'\n'))
        {
            var line = sseEvent[range].TrimEnd((byte)'\r');
            if (!line.StartsWith("data:"u8))
            {
                continue;
            }

            var data = line["data:"u8.Length..].TrimStart((byte)' ');
            if (data.SequenceEqual("[DONE]"u8))
            {
                Done = true;
                return false;
            }

            return HasText(data, "\"content\":\""u8) || HasText(data, "\"text\":\""u8);
        }

        return false;
    }

    private static bool HasText(ReadOnlySpan<byte> json, ReadOnlySpan<byte> key)
    {
        var index = json.IndexOf(key);
        return index >= 0 && index + key.Length < json.Length && json[index + key.Length] != (byte)'"';
    }
}
