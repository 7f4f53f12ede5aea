using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Forwarding;
using LlmAspire.Gateway.Api.Shutdown;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LlmAspire.Gateway.Tests;

/// <summary>The one timer behind every upstream deadline, in virtual time.</summary>
public sealed class UpstreamDeadlinesTests : IDisposable
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider time = new();
    private readonly ApplicationLifetime lifetime = new(NullLogger<ApplicationLifetime>.Instance);
    private readonly GatewayShutdown shutdown;
    private readonly UpstreamDeadlines deadlines;

    public UpstreamDeadlinesTests()
    {
        shutdown = new GatewayShutdown(lifetime, Options.Create(new GatewayOptions { ShutdownGracePeriod = Grace }), time);
        deadlines = new UpstreamDeadlines(time, shutdown);
    }

    [Fact]
    public void A_deadline_fires_when_due_and_moving_it_postpones_it()
    {
        using var first = deadlines.Start(TimeSpan.FromSeconds(5));
        using var second = deadlines.Start(TimeSpan.FromSeconds(5));

        time.Advance(TimeSpan.FromSeconds(4));
        second.MoveTo(TimeSpan.FromSeconds(5));
        Assert.False(first.Token.IsCancellationRequested);

        time.Advance(TimeSpan.FromSeconds(1.1));
        Assert.True(first.IsExpired);
        Assert.True(first.Token.IsCancellationRequested);
        Assert.False(second.Token.IsCancellationRequested);

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(second.IsExpired);
    }

    [Fact]
    public void A_finished_exchange_is_never_cancelled_and_a_followed_token_cancels_without_expiring()
    {
        var finished = deadlines.Start(TimeSpan.FromSeconds(1));
        finished.Dispose();
        using var client = new CancellationTokenSource();
        using var followed = deadlines.Start(TimeSpan.FromSeconds(1));
        followed.EndWith(client.Token);

        client.Cancel();
        Assert.True(followed.Token.IsCancellationRequested);
        Assert.False(followed.IsExpired);

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(finished.Token.IsCancellationRequested);
    }

    [Fact]
    public void The_end_of_the_shutdown_grace_period_expires_every_deadline_and_any_started_later()
    {
        using var running = deadlines.Start(TimeSpan.FromHours(1));
        lifetime.StopApplication();
        time.Advance(Grace - TimeSpan.FromSeconds(1));
        Assert.False(running.Token.IsCancellationRequested);

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(running.IsExpired);
        using var late = deadlines.Start(TimeSpan.FromHours(1));
        Assert.True(late.IsExpired);
    }

    [Fact]
    public async Task No_deadline_is_lost_while_deadlines_start_move_and_end_during_sweeps()
    {
        var kept = new System.Collections.Concurrent.ConcurrentBag<UpstreamDeadline>();
        using var stop = new CancellationTokenSource();
        var clock = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                time.Advance(TimeSpan.FromMilliseconds(7));
                await Task.Yield();
            }
        }, TestContext.Current.CancellationToken);
        var workers = Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 5_000; i++)
            {
                var deadline = deadlines.Start(TimeSpan.FromMilliseconds(random.Next(1, 500)));
                deadline.MoveTo(TimeSpan.FromMilliseconds(random.Next(1, 500)));
                if (random.Next(3) == 0)
                {
                    deadline.Dispose();
                }
                else
                {
                    kept.Add(deadline);
                }
            }
        }, TestContext.Current.CancellationToken)).ToArray();
        await Task.WhenAll(workers);
        await stop.CancelAsync();
        await clock;

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.All(kept, deadline => Assert.True(deadline.IsExpired));
        Assert.NotEmpty(kept);
    }

    public void Dispose()
    {
        deadlines.Dispose();
        shutdown.Dispose();
    }
}
