using System.Collections.Concurrent;
using LlmAspire.ModelManager.Catalog;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>What one gateway replica says about one model: requests in flight, and seconds since its last one ended.</summary>
public sealed record ModelActivity(int InFlight, double IdleSeconds);

/// <summary>
/// Per-model activity across gateway replicas. Replicas report in small batches; the in-flight counts of a replica
/// that has not reported within the grace period are forgotten, so a crashed gateway cannot pin a model in memory
/// forever (the last activity it reported still counts). Idle times are sent relative ("idle for n seconds") and
/// anchored on arrival, so replica clocks never matter.
/// </summary>
public sealed class ActivityTracker(IOptions<ModelManagerOptions> options, TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<string, Replica> replicas = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> lastActivity = new(StringComparer.Ordinal);

    public void Report(string replica, IReadOnlyDictionary<string, ModelActivity> models)
    {
        var now = timeProvider.GetUtcNow();
        replicas[replica] = new Replica(now, models.ToDictionary(entry => entry.Key, entry => entry.Value.InFlight, StringComparer.Ordinal));
        foreach (var (model, activity) in models)
        {
            Record(model, activity.InFlight > 0 ? now : now - TimeSpan.FromSeconds(Math.Max(0, activity.IdleSeconds)));
        }
    }

    /// <summary>Marks a model used now (an ensure is a request on its way).</summary>
    public void Touch(string model) => Record(model, timeProvider.GetUtcNow());

    public int InFlight(string model) => LiveReplicas().Sum(replica => replica.InFlight.TryGetValue(model, out var count) ? count : 0);

    public DateTimeOffset LastActivity(string model) => lastActivity.TryGetValue(model, out var time) ? time : DateTimeOffset.MinValue;

    /// <summary>Idle: nothing in flight on any live replica, and the last request ended more than <paramref name="idleTimeout"/> ago.</summary>
    public bool IsIdle(string model, TimeSpan idleTimeout) =>
        InFlight(model) == 0 && timeProvider.GetUtcNow() - LastActivity(model) >= idleTimeout;

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
