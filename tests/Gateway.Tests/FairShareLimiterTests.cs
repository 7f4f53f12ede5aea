using System.Threading.Channels;
using LlmAspire.Gateway.Api.Admission;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// The admission queues' limiter on its own: round-robin turns across keys, weights, the queue bound, cancellation,
/// limits changed under load, and the cost of its uncontended path. It keeps no time, so nothing here waits on a clock.
/// </summary>
public sealed class FairShareLimiterTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Waiting_requests_take_turns_across_keys_oldest_first_within_a_key()
    {
        var limiter = new FairShareLimiter(permitLimit: 1, queueLimit: 100);
        Assert.True(limiter.TryAcquire());
        var order = await GrantOrderAsync(limiter, ("a", 1, 5), ("b", 1, 2), ("c", 1, 1));

        Assert.Equal(["a1", "b1", "c1", "a2", "b2", "a3", "a4", "a5"], order);
    }

    [Fact]
    public async Task A_keys_weight_is_how_many_permits_it_gets_per_turn()
    {
        var limiter = new FairShareLimiter(permitLimit: 1, queueLimit: 100);
        Assert.True(limiter.TryAcquire());
        var order = await GrantOrderAsync(limiter, ("heavy", 3, 7), ("light", 1, 3));

        Assert.Equal(["heavy1", "heavy2", "heavy3", "light1", "heavy4", "heavy5", "heavy6", "light2", "heavy7", "light3"], order);
    }

    [Fact]
    public async Task A_key_that_arrives_behind_a_burst_waits_one_turn_not_the_whole_burst()
    {
        var limiter = new FairShareLimiter(permitLimit: 2, queueLimit: 1_000);
        Assert.True(limiter.TryAcquire());
        Assert.True(limiter.TryAcquire());
        var order = await GrantOrderAsync(limiter, ("burst", 1, 500), ("late", 1, 5));

        var positions = order.Select((name, index) => (name, index)).Where(entry => entry.name.StartsWith("late", StringComparison.Ordinal)).Select(entry => entry.index);
        Assert.Equal([1, 3, 5, 7, 9], positions);
    }

    [Fact]
    public async Task A_free_permit_is_never_taken_ahead_of_a_waiter()
    {
        var limiter = new FairShareLimiter(permitLimit: 1, queueLimit: 10);
        Assert.True(limiter.TryAcquire());
        var waiter = limiter.AcquireAsync("a", 1, Token).AsTask();

        limiter.Release();

        Assert.True(await waiter);
        Assert.False(limiter.TryAcquire());
        Assert.Equal((1, 0), (limiter.Held, limiter.Waiting));
        limiter.Release();
        Assert.Equal((0, 0), (limiter.Held, limiter.Waiting));
    }

    [Fact]
    public async Task A_full_queue_refuses_at_once_and_a_cancelled_waiter_leaves_no_count_and_loses_its_place()
    {
        var limiter = new FairShareLimiter(permitLimit: 1, queueLimit: 2);
        Assert.True(limiter.TryAcquire());
        using var gone = new CancellationTokenSource();
        var leaving = limiter.AcquireAsync("a", 1, gone.Token).AsTask();
        var staying = limiter.AcquireAsync("b", 1, Token).AsTask();

        var refused = limiter.AcquireAsync("c", 1, Token);
        Assert.True(refused.IsCompleted);
        Assert.False(await refused);

        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);
        Assert.Equal((1, 1), (limiter.Held, limiter.Waiting));
        Assert.False(staying.IsCompleted);

        limiter.Release();
        Assert.True(await staying);
        limiter.Release();
        Assert.Equal((0, 0), (limiter.Held, limiter.Waiting));
    }

    [Fact]
    public async Task An_already_cancelled_request_is_not_queued()
    {
        var limiter = new FairShareLimiter(permitLimit: 1, queueLimit: 2);
        Assert.True(limiter.TryAcquire());

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => limiter.AcquireAsync("a", 1, new CancellationToken(canceled: true)).AsTask());

        Assert.Equal((1, 0), (limiter.Held, limiter.Waiting));
    }

    [Fact]
    public async Task A_higher_limit_grants_waiters_at_once_and_a_lower_one_takes_nothing_away_from_holders()
    {
        var limiter = new FairShareLimiter(permitLimit: 1, queueLimit: 10);
        Assert.True(limiter.TryAcquire());
        var waiters = Enumerable.Range(0, 4).Select(_ => limiter.AcquireAsync("a", 1, Token).AsTask()).ToList();

        limiter.SetLimits(3, 10);
        var grantedAtOnce = await Task.WhenAll(waiters[..2]);
        Assert.Equal([true, true], grantedAtOnce);
        Assert.Equal((3, 2), (limiter.Held, limiter.Waiting));

        limiter.SetLimits(1, 10);
        limiter.Release();
        limiter.Release();
        Assert.Equal((1, 2), (limiter.Held, limiter.Waiting));
        Assert.All(waiters[2..], waiter => Assert.False(waiter.IsCompleted));

        limiter.Release();
        Assert.True(await waiters[2]);
        Assert.Equal((1, 1), (limiter.Held, limiter.Waiting));

        limiter.SetLimits(1, 0);
        Assert.False(await limiter.AcquireAsync("b", 1, Token));
        limiter.Release();
        Assert.True(await waiters[3]);
        limiter.Release();
        Assert.Equal((0, 0), (limiter.Held, limiter.Waiting));
    }

    [Fact]
    public void Taking_and_giving_back_a_free_permit_allocates_nothing()
    {
        var limiter = new FairShareLimiter(permitLimit: 4, queueLimit: 10);
        var token = Token;
        void TakeAndGiveBack()
        {
            _ = limiter.AcquireAsync("a", 1, token);
            limiter.TryAcquire();
            limiter.Release();
            limiter.Release();
        }

        TakeAndGiveBack();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            TakeAndGiveBack();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal((0, 0), (limiter.Held, limiter.Waiting));
    }

    [Fact]
    public async Task Many_keys_random_cancellations_and_changing_limits_leak_no_permit_and_keep_exact_counts()
    {
        const int Keys = 24, RequestsPerKey = 250, MaxLimit = 8;
        var limiter = new FairShareLimiter(permitLimit: 3, queueLimit: 4_000);
        int holding = 0, mostHeld = 0, granted = 0, refused = 0, cancelled = 0, released = 0;

        async Task RequestAsync(int key, int seed)
        {
            var random = new Random(seed);
            using var hangUp = new CancellationTokenSource();
            if (random.Next(3) == 0)
            {
                hangUp.CancelAfter(random.Next(0, 20));
            }

            await Task.Delay(random.Next(0, 10), Token);
            bool acquired;
            try
            {
                acquired = await limiter.AcquireAsync($"key-{key}", 1 + (key % 3), hangUp.Token);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref cancelled);
                return;
            }

            if (!acquired)
            {
                Interlocked.Increment(ref refused);
                return;
            }

            Interlocked.Increment(ref granted);
            var now = Interlocked.Increment(ref holding);
            InterlockedMax(ref mostHeld, now);
            if (random.Next(2) == 0)
            {
                await Task.Yield();
            }
            else
            {
                await Task.Delay(1, Token);
            }

            Interlocked.Decrement(ref holding);
            Interlocked.Increment(ref released);
            limiter.Release();
        }

        using var stop = new CancellationTokenSource();
        var resizing = Task.Run(async () =>
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                limiter.SetLimits(random.Next(1, MaxLimit + 1), random.Next(500, 4_000));
                await Task.Delay(1, CancellationToken.None);
            }
        }, Token);
        await Task.WhenAll(Enumerable.Range(0, Keys * RequestsPerKey).Select(i => Task.Run(() => RequestAsync(i % Keys, i), Token)));
        await stop.CancelAsync();
        await resizing;

        Assert.Equal(Keys * RequestsPerKey, granted + refused + cancelled);
        Assert.Equal(granted, released);
        Assert.True(cancelled > 0 && granted > 0, $"granted {granted}, refused {refused}, cancelled {cancelled}");
        Assert.InRange(mostHeld, 1, MaxLimit);
        Assert.Equal((0, 0), (limiter.Held, limiter.Waiting));

        // Every permit is back: exactly the limit can be taken, then none.
        limiter.SetLimits(5, 10);
        Assert.Equal(5, Enumerable.Range(0, 10).Count(_ => limiter.TryAcquire()));
    }

    /// <summary>
    /// Queues <c>Count</c> requests per key, key after key, while every permit is held; then gives back one permit at a
    /// time, each once the previous one was granted, and returns the names of the requests in the order they were granted.
    /// </summary>
    private static async Task<List<string>> GrantOrderAsync(FairShareLimiter limiter, params (string Key, int Weight, int Count)[] keys)
    {
        var grants = Channel.CreateUnbounded<string>();
        foreach (var (key, weight, count) in keys)
        {
            for (var n = 1; n <= count; n++)
            {
                var waiting = limiter.AcquireAsync(key, weight, Token);
                var name = $"{key}{n}";
                _ = waiting.AsTask().ContinueWith(granted => grants.Writer.TryWrite(granted.Result ? name : $"{name} refused"), Token,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Token);
        deadline.CancelAfter(Eventually.DefaultDeadline);
        var order = new List<string>();
        for (var granted = 0; granted < keys.Sum(key => key.Count); granted++)
        {
            limiter.Release();
            order.Add(await grants.Reader.ReadAsync(deadline.Token));
        }

        while (limiter.Held > 0)
        {
            limiter.Release();
        }

        Assert.Equal((0, 0), (limiter.Held, limiter.Waiting));
        return order;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current && Interlocked.CompareExchange(ref target, value, current) is var seen && seen != current)
        {
            current = seen;
        }
    }
}
