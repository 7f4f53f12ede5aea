using System.Collections.Concurrent;
using LlmAspire.Gateway.Api.Shutdown;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// One timer for the deadlines of every upstream exchange, instead of a timer per request re-armed on every read. An
/// <see cref="UpstreamDeadline"/> is moved by writing its due time; the timer fires for the earliest due time it knows
/// of, cancels what is due, and re-arms for the next. The same sweep ends every exchange when the shutdown's grace
/// period is over, so no exchange links its own token to it.
/// </summary>
internal sealed class UpstreamDeadlines : IDisposable
{
    // Deadlines are seconds long; being late by this much saves re-arming the timer for every new request.
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(10);

    private readonly ConcurrentDictionary<UpstreamDeadline, byte> pending = new(ReferenceEqualityComparer.Instance);
    private readonly TimeProvider timeProvider;
    private readonly ITimer timer;
    private readonly CancellationToken shutdownGraceOver;
    private readonly CancellationTokenRegistration graceOver;
    private readonly Lock arming = new();
    private long armedFor = long.MaxValue;

    public UpstreamDeadlines(TimeProvider timeProvider, GatewayShutdown shutdown)
    {
        this.timeProvider = timeProvider;
        timer = timeProvider.CreateTimer(static state => ((UpstreamDeadlines)state!).Sweep(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        shutdownGraceOver = shutdown.GraceOver;
        graceOver = shutdown.GraceOver.UnsafeRegister(static state => ((UpstreamDeadlines)state!).CancelAll(), this);
    }

    /// <summary>A deadline <paramref name="budget"/> from now; dispose it when the exchange is over.</summary>
    public UpstreamDeadline Start(TimeSpan budget)
    {
        // The due time is set before the sweep can see the deadline.
        var deadline = new UpstreamDeadline(this, DueAfter(budget));
        pending.TryAdd(deadline, 0);
        ArmFor(deadline.Due);
        if (shutdownGraceOver.IsCancellationRequested)
        {
            Remove(deadline);
            deadline.Expire();
        }

        return deadline;
    }

    internal long Now => timeProvider.GetTimestamp();

    internal long DueAfter(TimeSpan budget) => Now + (long)(budget.TotalSeconds * timeProvider.TimestampFrequency);

    /// <summary>Makes sure the timer fires no later than <paramref name="due"/> (plus the slack).</summary>
    internal void ArmFor(long due)
    {
        if (due >= Volatile.Read(ref armedFor))
        {
            return;
        }

        lock (arming)
        {
            if (due < armedFor)
            {
                armedFor = due;
                timer.Change(Until(due) + Slack, Timeout.InfiniteTimeSpan);
            }
        }
    }

    internal void Remove(UpstreamDeadline deadline) => pending.TryRemove(deadline, out _);

    public void Dispose()
    {
        graceOver.Dispose();
        timer.Dispose();
    }

    private TimeSpan Until(long due) => TimeSpan.FromSeconds(Math.Max(0, due - Now) / (double)timeProvider.TimestampFrequency);

    private void Sweep()
    {
        lock (arming)
        {
            armedFor = long.MaxValue;
        }

        var now = Now;
        var next = long.MaxValue;
        foreach (var (deadline, _) in pending)
        {
            var due = deadline.Due;
            if (due <= now)
            {
                Remove(deadline);
                deadline.Expire();
            }
            else
            {
                next = Math.Min(next, due);
            }
        }

        if (next != long.MaxValue)
        {
            ArmFor(next);
        }
    }

    private void CancelAll()
    {
        foreach (var (deadline, _) in pending)
        {
            Remove(deadline);
            deadline.Expire();
        }
    }
}

/// <summary>
/// The current deadline of one upstream exchange: first byte, then each idle gap, capped by the overall limit. Its
/// token fires when the deadline passes, when the shutdown's grace period ends, or when <see cref="EndWith"/>'s token
/// (the client's request) is cancelled.
/// </summary>
internal sealed class UpstreamDeadline(UpstreamDeadlines owner, long due) : IDisposable
{
    // Never disposed: it has no timer or registration of its own, and the sweep may still cancel it after the exchange.
    private readonly CancellationTokenSource source = new();
    private long due = due;
    private CancellationTokenRegistration followed;
    private CancellationToken followedToken;

    public CancellationToken Token => source.Token;

    /// <summary>Whether the deadline itself (or the shutdown) ended the exchange, rather than only the client's token.</summary>
    public bool IsExpired { get; private set; }

    internal long Due => Volatile.Read(ref due);

    /// <summary>Sets the deadline <paramref name="budget"/> from now.</summary>
    public void MoveTo(TimeSpan budget)
    {
        var next = owner.DueAfter(budget);
        Volatile.Write(ref due, next);
        owner.ArmFor(next);
    }

    /// <summary>Also ends with <paramref name="token"/> (one registration, kept while the same token is passed again).</summary>
    public void EndWith(CancellationToken token)
    {
        if (token == followedToken || !token.CanBeCanceled)
        {
            return;
        }

        followed.Dispose();
        followedToken = token;
        followed = token.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), source);
    }

    internal void Expire()
    {
        IsExpired = true;
        source.Cancel();
    }

    public void Dispose()
    {
        owner.Remove(this);
        followed.Dispose();
    }
}
