namespace LlmAspire.VllmSimulator.Generation;

/// <summary>
/// Stable 64-bit hashing (FNV-1a, finished with a SplitMix64 mix) for deterministic output: unlike
/// <see cref="HashCode"/> it is the same in every process, so identical requests get identical answers across restarts.
/// </summary>
internal static class TextHash
{
    public const ulong Empty = 14695981039346656037UL;
    private const ulong Prime = 1099511628211UL;

    public static ulong Of(ReadOnlySpan<byte> bytes) => Append(Empty, bytes);

    public static ulong Append(ulong hash, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * Prime;
        }

        return hash;
    }

    public static ulong Append(ulong hash, ulong value)
    {
        for (var i = 0; i < 8; i++, value >>= 8)
        {
            hash = (hash ^ (value & 0xFF)) * Prime;
        }

        return hash;
    }

    /// <summary>SplitMix64's finaliser: spreads FNV's weak low bits before the value seeds a generator.</summary>
    public static ulong Mix(ulong value)
    {
        value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9UL;
        value = (value ^ (value >> 27)) * 0x94D049BB133111EBUL;
        return value ^ (value >> 31);
    }
}
