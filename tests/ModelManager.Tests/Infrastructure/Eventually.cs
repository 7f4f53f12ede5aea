namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>Polls for a condition with a generous deadline: tests never assert wall-clock durations.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(60);

    public static async Task HoldsAsync(Func<Task<bool>> condition, string what, TimeSpan? deadline = null)
    {
        var until = DateTime.UtcNow + (deadline ?? DefaultDeadline);
        while (!await condition())
        {
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"Still not true after {(deadline ?? DefaultDeadline).TotalSeconds} s: {what}");
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    public static Task HoldsAsync(Func<bool> condition, string what, TimeSpan? deadline = null) =>
        HoldsAsync(() => Task.FromResult(condition()), what, deadline);
}
