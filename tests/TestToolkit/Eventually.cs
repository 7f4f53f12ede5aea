using System.Diagnostics;

namespace LlmAspire.TestToolkit;

/// <summary>Polls for a condition with a generous deadline: tests never assert wall-clock durations.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <paramref name="deadline"/>.</summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, string what, TimeSpan? deadline = null)
    {
        var limit = deadline ?? DefaultDeadline;
        // A monotonic clock: a change of the wall clock neither cuts the wait short nor stretches it.
        var waited = Stopwatch.StartNew();
        while (!await condition())
        {
            if (waited.Elapsed > limit)
            {
                Assert.Fail($"Still not true after {limit.TotalSeconds} s: {what}");
            }

            await Task.Delay(PollInterval, TestContext.Current.CancellationToken);
        }
    }

    public static Task HoldsAsync(Func<bool> condition, string what, TimeSpan? deadline = null) =>
        HoldsAsync(() => Task.FromResult(condition()), what, deadline);
}
