namespace LlmAspire.Cache.Tests;

public sealed class SingleFlightTests
{
    [Fact]
    public async Task Concurrent_callers_share_one_run_and_a_later_caller_starts_a_new_one()
    {
        var flights = new SingleFlight<string, int>();
        var release = new TaskCompletionSource();
        var runs = 0;

        var callers = Enumerable.Range(0, 50).Select(_ => flights.RunAsync("k", async () =>
        {
            Interlocked.Increment(ref runs);
            await release.Task;
            return 42;
        }, TestContext.Current.CancellationToken)).ToList();
        release.SetResult();

        Assert.All(await Task.WhenAll(callers), value => Assert.Equal(42, value));
        Assert.Equal(1, runs);
        Assert.Equal(0, flights.Count);

        Assert.Equal(7, await flights.RunAsync("k", () => Task.FromResult(7), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_failing_leader_fails_its_followers_and_does_not_poison_the_key()
    {
        var flights = new SingleFlight<string, int>();
        var release = new TaskCompletionSource();
        var leader = flights.RunAsync("k", async () =>
        {
            await release.Task;
            throw new InvalidOperationException("boom");
        }, TestContext.Current.CancellationToken);
        var follower = flights.RunAsync("k", () => Task.FromResult(1), TestContext.Current.CancellationToken);
        release.SetResult();

        await Assert.ThrowsAsync<InvalidOperationException>(() => leader);
        await Assert.ThrowsAsync<InvalidOperationException>(() => follower);
        Assert.Equal(3, await flights.RunAsync("k", () => Task.FromResult(3), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_follower_that_gives_up_leaves_the_flight_running()
    {
        var flights = new SingleFlight<string, int>();
        var flight = flights.Join("k", out var leader);
        Assert.True(leader);
        using var impatient = new CancellationTokenSource();
        var follower = flights.Join("k", out var second).Result.WaitAsync(impatient.Token);
        Assert.False(second);

        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => follower);
        flight.Complete(5);
        Assert.Equal(5, await flight.Result);
    }
}
