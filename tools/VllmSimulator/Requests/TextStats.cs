using System.Buffers;
using System.Text.Json;
using LlmAspire.VllmSimulator.Generation;

namespace LlmAspire.VllmSimulator.Requests;

/// <summary>
/// Hash and whitespace-separated word count of the prompt text seen so far, read straight from the JSON reader
/// without allocating strings.
/// </summary>
internal struct TextStats()
{
    public ulong Hash { get; private set; } = TextHash.Empty;

    public int Words { get; private set; }

    /// <summary>Adds the reader's current string token, unescaped.</summary>
    public void Add(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            Add(reader.ValueSpan);
            return;
        }

        // Escapes only shrink text, so the raw length bounds the unescaped one.
        var rented = ArrayPool<byte>.Shared.Rent(reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length);
        try
        {
            Add(rented.AsSpan(0, reader.CopyString(rented)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void Add(ReadOnlySpan<byte> utf8)
    {
        // The length keeps ["ab", "c"] and ["a", "bc"] apart.
        Hash = TextHash.Append(TextHash.Append(Hash, utf8), (ulong)utf8.Length);
        var inWord = false;
        foreach (var b in utf8)
        {
            var space = b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0B or 0x0C;
            if (!space && !inWord)
            {
                Words++;
            }

            inWord = !space;
        }
    }
}
