using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json.Serialization;
using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.Hosting.Orchestration;

public enum ResourceState
{
    Waiting,
    Starting,
    Running,
    Exited,
    Failed,
}

public enum HealthStatus
{
    Unknown,
    Healthy,
    Unhealthy,
}

public sealed record ResourceEndpoint(string Name, string Url);

/// <summary>What is known about a resource right now; the resource service serves these.</summary>
public sealed record ResourceSnapshot(
    string Name,
    string Type,
    ResourceState State,
    HealthStatus Health,
    IReadOnlyList<ResourceEndpoint> Endpoints,
    DateTimeOffset? StartedAt,
    int Restarts,
    int? ExitCode)
{
    /// <summary>The process running the resource now (its process group has the same id).</summary>
    [JsonIgnore]
    public int? ProcessId { get; init; }

    /// <summary>The image when the resource runs as a container; null when it runs as a process here.</summary>
    public string? Image { get; init; }

    /// <summary>Failed for good: it will not be started again (nothing to run it with, a dependency failed).</summary>
    [JsonIgnore]
    public bool IsTerminal { get; init; }
}

/// <summary>
/// The state of every resource that runs (parameters are values, not tracked), and waiting for one to reach a state
/// (Aspire's <c>ResourceNotificationService</c>).
/// </summary>
public sealed class ResourceNotificationService
{
    private readonly IReadOnlyList<IResource> resources;
    private readonly ConcurrentDictionary<string, ResourceSnapshot> snapshots = new();
    private TaskCompletionSource changed = NewSignal();

    public ResourceNotificationService(DistributedApplicationModel model)
    {
        resources = [.. model.Resources.Where(r => r is not ParameterResource)];
        foreach (var resource in resources)
        {
            snapshots[resource.Name] = new ResourceSnapshot(resource.Name, TypeName(resource), ResourceState.Waiting, HealthStatus.Unknown, [], null, 0, null);
        }
    }

    /// <summary>Every resource, in the order the AppHost declared them.</summary>
    public IReadOnlyList<ResourceSnapshot> Snapshots => [.. resources.Select(r => snapshots[r.Name])];

    public ResourceSnapshot Get(string name) => snapshots.TryGetValue(name, out var snapshot)
        ? snapshot
        : throw new InvalidOperationException($"There is no resource named '{name}'.");

    /// <summary>Waits until the resource is healthy; throws when it has failed for good.</summary>
    public async Task WaitForResourceHealthyAsync(string name, CancellationToken cancellationToken = default)
    {
        var snapshot = await WaitForResourceAsync(name, s => s.Health == HealthStatus.Healthy || s.IsTerminal, cancellationToken);
        if (snapshot.Health != HealthStatus.Healthy)
        {
            throw new InvalidOperationException($"Resource '{name}' failed and will not become healthy; see its logs.");
        }
    }

    public async Task<ResourceSnapshot> WaitForResourceAsync(string name, Func<ResourceSnapshot, bool> predicate, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var signal = Volatile.Read(ref changed).Task;
            var snapshot = Get(name);
            if (predicate(snapshot))
            {
                return snapshot;
            }

            await signal.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The snapshots now, then again at every change.</summary>
    public async IAsyncEnumerable<IReadOnlyList<ResourceSnapshot>> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var signal = Volatile.Read(ref changed).Task;
            yield return Snapshots;
            await signal.WaitAsync(cancellationToken);
        }
    }

    internal ResourceSnapshot Update(IResource resource, Func<ResourceSnapshot, ResourceSnapshot> update)
    {
        var snapshot = snapshots.AddOrUpdate(resource.Name, _ => throw new InvalidOperationException(), (_, current) => update(current));
        Interlocked.Exchange(ref changed, NewSignal()).TrySetResult();
        return snapshot;
    }

    /// <summary>What kind of resource it is, for people: Redis, Postgres, PostgresDatabase, Project, Container …</summary>
    private static string TypeName(IResource resource)
    {
        var name = resource.GetType().Name;
        name = name.EndsWith("Resource", StringComparison.Ordinal) ? name[..^"Resource".Length] : name;
        return name.EndsWith("Server", StringComparison.Ordinal) ? name[..^"Server".Length] : name;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
