namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>Exponential backoff: <c>first × 2^(failures−1)</c>, capped at <c>max</c>.</summary>
internal static class Backoff
{
    public static TimeSpan After(int consecutiveFailures, TimeSpan first, TimeSpan max)
    {
        if (consecutiveFailures <= 0)
        {
            return TimeSpan.Zero;
        }

        var factor = 1L << Math.Min(consecutiveFailures - 1, 30);
        return first.Ticks > max.Ticks / factor ? max : TimeSpan.FromTicks(first.Ticks * factor);
    }
}
