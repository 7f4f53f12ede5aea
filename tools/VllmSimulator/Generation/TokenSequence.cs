namespace LlmAspire.VllmSimulator.Generation;

/// <summary>The deterministic word sequence of one request (SplitMix64 seeded by the request's hash).</summary>
internal struct TokenSequence(ulong seed)
{
    private ulong _state = seed;

    public ulong NextBits()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return TextHash.Mix(_state);
    }

    /// <summary>The next word as UTF-8: with a leading space, except for the first word of an answer.</summary>
    public ReadOnlySpan<byte> NextWord(bool first)
    {
        var word = Vocabulary.Words[(int)(NextBits() % (ulong)Vocabulary.Words.Length)];
        return first ? word.AsSpan(1) : word;
    }

    /// <summary>A uniform float in [-1, 1) for embedding components.</summary>
    public float NextComponent() => (NextBits() >> 40) / (float)(1 << 23) - 1f;
}
