using System.Collections.Concurrent;
using LlmAspire.ModelManager.Catalog;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Activity;

/// <summary>What one gateway replica says about one model: requests in flight, and seconds since its last one ended.</summary>
public sealed record ModelActivity(int InFlight, double IdleSeconds);

/// <summary>
/// Per-model activity across gateway replicas. Each report is the replica's whole picture (a model it leaves out has
/// nothing in flight there). The in-flight counts of a replica that has not reported within the grace period are
/// forgotten, so a crashed gateway cannot pin a model in memory forever; the last activity it reported still counts.
/// Idle times are sent relative ("idle for n seconds") and anchored on arrival, so replica clocks never matter.
/// </summary>
public sealed class ActivityTracker(IOptions<ModelManagerOptions> options, TimeProvider timeProvider)
{
    /// <summary>The most requests one replica may report in flight for one model; more is not a real count.</summary>
    public const int MaxInFlight = 1_000_000;

    /// <summary>The longest idle time a replica may report (ten years); more is not a real duration.</summary>
    public const double MaxIdleSeconds = 315_576_000;

    private readonly ConcurrentDictionary<string, Replica> replicas = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> lastActivity = new(StringComparer.Ordinal);

    /// <summary>Takes one replica's report; entries for models outside the catalog are ignored.</summary>
    public void Report(string replica, IReadOnlyDictionary<string, ModelActivity> models)
    {
        var catalog = options.Value.Models;
        var now = timeProvider.GetUtcNow();
        var known = models.Where(entry => catalog.ContainsKey(entry.Key)).ToList();
        replicas[replica] = new Replica(now, known.ToDictionary(entry => entry.Key, entry => Math.Clamp(entry.Value.InFlight, 0, MaxInFlight), StringComparer.Ordinal));
        foreach (var (model, activity) in known)
        {
            // Clamped as well as validated by the API: a time before the calendar's start would throw here.
            var idle = double.IsFinite(activity.IdleSeconds) ? Math.Clamp(activity.IdleSeconds, 0, MaxIdleSeconds) : 0;
            Record(model, activity.InFlight > 0 ? now : now - TimeSpan.FromSeconds(idle));
        }
    }

    /// <summary>Marks a model used now (an ensure is a request on its way).</summary>
    public void Touch(string model) => Record(model, timeProvider.GetUtcNow());

    /// <summary>Requests in flight for the model across the replicas that reported within the grace period.</summary>
    public int InFlight(string model) =>
        (int)Math.Min(int.MaxValue, LiveReplicas().Sum(replica => replica.InFlight.TryGetValue(model, out var count) ? (long)count : 0));

    /// <summary>When the model was last in use (a request in flight, ended, or an ensure), or null when never.</summary>
    public DateTimeOffset? LastActivity(string model) => lastActivity.TryGetValue(model, out var time) ? time : null;

    /// <summary>Idle: nothing in flight on any live replica, and the last request ended at least <paramref name="idleTimeout"/> ago.</summary>
    public bool IsIdle(string model, TimeSpan idleTimeout, DateTimeOffset? loadedSince = null)
    {
        if (InFlight(model) > 0)
        {
            return false;
        }

        // A model nobody has used since it was loaded (e.g. adopted after a restart) counts from when it was loaded.
        var last = new[] { LastActivity(model), loadedSince }.Max() ?? DateTimeOffset.MinValue;
        return timeProvider.GetUtcNow() - last >= idleTimeout;
    }

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
            else
            {
                replicas.TryRemove(KeyValuePair.Create(name, replica));
            }
        }
    }

    private void Record(string model, DateTimeOffset time) =>
        lastActivity.AddOrUpdate(model, time, (_, known) => time > known ? time : known);

    private sealed record Replica(DateTimeOffset ReportedAt, Dictionary<string, int> InFlight);
}
