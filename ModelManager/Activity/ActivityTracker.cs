using System.Collections.Concurrent;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Activity;

/// <summary>
/// Per-model activity across gateway replicas. Each report is the replica's whole picture (a model it leaves out has
/// nothing in flight there). The in-flight counts of a replica that has not reported within the grace period are
/// forgotten, so a crashed gateway cannot pin a model in memory forever; the last activity it reported still counts.
/// Idle times are sent relative ("idle for n seconds") and anchored on arrival, so replica clocks never matter.
/// <see cref="Changed"/> follows what the change feed shows: in-flight and queued sums, and last activity when it moves
/// by a second or more (a report of an idle model re-anchors it by a few milliseconds, which is not news).
/// </summary>
internal sealed class ActivityTracker(IOptions<ModelManagerOptions> options, TimeProvider timeProvider)
{
    /// <summary>The most requests one replica may report in flight, or queued, for one model; more is not a real count.</summary>
    public const int MaxRequests = 1_000_000;

    /// <summary>The longest idle time a replica may report (ten years); more is not a real duration.</summary>
    public const double MaxIdleSeconds = 315_576_000;

    private readonly ConcurrentDictionary<string, Replica> replicas = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> lastActivity = new(StringComparer.Ordinal);
    private readonly ChangeSignal changed = new();

    /// <summary>Takes one replica's report; entries for models outside the catalog are ignored.</summary>
    public void Report(string replica, IReadOnlyDictionary<string, ModelActivity> models)
    {
        var catalog = options.Value.Models;
        var now = timeProvider.GetUtcNow();
        var known = models.Where(entry => catalog.ContainsKey(entry.Key)).ToList();
        var report = new Replica(
            now,
            known.ToDictionary(entry => entry.Key, entry => Math.Clamp(entry.Value.InFlight, 0, MaxRequests), StringComparer.Ordinal),
            known.ToDictionary(entry => entry.Key, entry => Math.Clamp(entry.Value.Queued, 0, MaxRequests), StringComparer.Ordinal));
        replicas.TryGetValue(replica, out var previous);
        replicas[replica] = report;
        var news = previous is null ? report.IsBusy : !report.SameCounts(previous);
        foreach (var (model, activity) in known)
        {
            // Clamped as well as validated by the API: a time before the calendar's start would throw here.
            var idle = double.IsFinite(activity.IdleSeconds) ? Math.Clamp(activity.IdleSeconds, 0, MaxIdleSeconds) : 0;
            news |= Record(model, activity.InFlight > 0 || activity.Queued > 0 ? now : now - TimeSpan.FromSeconds(idle));
        }

        if (news)
        {
            changed.Raise();
        }
    }

    /// <summary>Completes at the next change of a model's in-flight or queued sum or its last activity.</summary>
    public Task Changed => changed.Next;

    /// <summary>Marks a model used now (an ensure is a request on its way).</summary>
    public void Touch(string model)
    {
        if (Record(model, timeProvider.GetUtcNow()))
        {
            changed.Raise();
        }
    }

    /// <summary>Requests in flight for the model across the replicas that reported within the grace period.</summary>
    public int InFlight(string model) => Sum(model, replica => replica.InFlight);

    /// <summary>Requests waiting for the model in the admission queues of the replicas that reported within the grace period.</summary>
    public int Queued(string model) => Sum(model, replica => replica.Queued);

    /// <summary>When the model was last in use (a request in flight, ended, or an ensure), or null when never.</summary>
    public DateTimeOffset? LastActivity(string model) => lastActivity.TryGetValue(model, out var time) ? time : null;

    /// <summary>Idle: nothing in flight or queued on any live replica, and the last request ended at least <paramref name="idleTimeout"/> ago.</summary>
    public bool IsIdle(string model, TimeSpan idleTimeout, DateTimeOffset? loadedSince = null) =>
        IdleSince(model, loadedSince) is { } since && timeProvider.GetUtcNow() - since >= idleTimeout;

    /// <summary>
    /// Since when the model has been unused: null while a live replica has a request of it in flight or queued.
    /// A model nobody has used since it was loaded (e.g. adopted after a restart) counts from when it was loaded.
    /// </summary>
    public DateTimeOffset? IdleSince(string model, DateTimeOffset? loadedSince = null) =>
        InFlight(model) > 0 || Queued(model) > 0 ? null : new[] { LastActivity(model), loadedSince }.Max() ?? DateTimeOffset.MinValue;

    /// <summary>Replicas heard from within the grace period.</summary>
    public int LiveReplicaCount => LiveReplicas().Count();

    private IEnumerable<Replica> LiveReplicas()
    {
        var cutoff = timeProvider.GetUtcNow() - options.Value.ReplicaGracePeriod;
        foreach (var (name, replica) in replicas)
        {
            if (replica.ReportedAt >= cutoff)
            {
                yield return replica;
            }
            else if (replicas.TryRemove(KeyValuePair.Create(name, replica)) && replica.IsBusy)
            {
                // Its requests are forgotten: the sums change.
                changed.Raise();
            }
        }
    }

    /// <summary>A count summed over the live replicas, in 64 bits and capped: enough replicas could exceed an int.</summary>
    private int Sum(string model, Func<Replica, Dictionary<string, int>> counts) =>
        (int)Math.Min(int.MaxValue, LiveReplicas().Sum(replica => counts(replica).TryGetValue(model, out var count) ? (long)count : 0));

    /// <summary>Moves the model's last activity forward to <paramref name="time"/>; true when that is news (a second or more).</summary>
    private bool Record(string model, DateTimeOffset time)
    {
        var before = LastActivity(model);
        var after = lastActivity.AddOrUpdate(model, time, (_, known) => time > known ? time : known);
        return before is not { } known || after - known >= TimeSpan.FromSeconds(1);
    }

    private sealed record Replica(DateTimeOffset ReportedAt, Dictionary<string, int> InFlight, Dictionary<string, int> Queued)
    {
        public bool IsBusy => InFlight.Values.Any(count => count > 0) || Queued.Values.Any(count => count > 0);

        public bool SameCounts(Replica other) => Same(InFlight, other.InFlight) && Same(Queued, other.Queued);

        private static bool Same(Dictionary<string, int> a, Dictionary<string, int> b) =>
            a.Keys.Union(b.Keys).All(model => a.GetValueOrDefault(model) == b.GetValueOrDefault(model));
    }
}
