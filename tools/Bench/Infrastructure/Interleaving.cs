namespace LlmAspire.Bench.Infrastructure;

/// <summary>Runs targets in turns so that machine noise (other processes, thermal, GC) hits every target alike.</summary>
internal static class Interleaving
{
    /// <summary>Every target once per round; each round starts one target later than the previous one.</summary>
    public static IEnumerable<(int Round, T Target)> Rounds<T>(IReadOnlyList<T> targets, int rounds)
    {
        for (var round = 1; round <= rounds; round++)
        {
            for (var i = 0; i < targets.Count; i++)
            {
                yield return (round, targets[(round - 1 + i) % targets.Count]);
            }
        }
    }
}
