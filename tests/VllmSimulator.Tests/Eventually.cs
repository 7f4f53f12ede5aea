namespace LlmAspire.VllmSimulator.Tests;

public static class Eventually
{
    /// <summary>Polls until the condition holds; fails after a generous timeout (behaviour, not speed, is under test).</summary>
    public static async Task TrueAsync(Func<bool> condition, string because, int timeoutMs = 10_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, $"Timed out waiting until {because}.");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
