namespace LlmAspire.VllmSimulator.Protocol;

/// <summary>Response ids like vLLM's: a prefix and 32 lowercase hex digits of a random UUID.</summary>
internal static class ResponseIds
{
    public const int HexDigits = 32;

    public static readonly byte[] Chat = "chatcmpl-"u8.ToArray();
    public static readonly byte[] Completion = "cmpl-"u8.ToArray();
    public static readonly byte[] Embedding = "embd-"u8.ToArray();

    /// <summary>Writes prefix + hex into <paramref name="destination"/> and returns the length written.</summary>
    public static int Write(ReadOnlySpan<byte> prefix, Span<byte> destination)
    {
        Span<byte> random = stackalloc byte[HexDigits / 2];
        Random.Shared.NextBytes(random);
        prefix.CopyTo(destination);
        var hex = destination[prefix.Length..];
        for (var i = 0; i < random.Length; i++)
        {
            hex[2 * i] = "0123456789abcdef"u8[random[i] >> 4];
            hex[(2 * i) + 1] = "0123456789abcdef"u8[random[i] & 0xF];
        }

        return prefix.Length + HexDigits;
    }
}
