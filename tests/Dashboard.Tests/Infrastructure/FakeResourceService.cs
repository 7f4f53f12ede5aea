using System.Collections.Concurrent;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LlmAspire.Dashboard.Resources;

namespace LlmAspire.Dashboard.Tests.Infrastructure;

/// <summary>
/// The AppHost's resource-service contract served by a real Kestrel on a free loopback port: a fixed set of resources,
/// console output that tests print into (backlog, then live to every follower), and restarts that are counted.
/// </summary>
public sealed class FakeResourceService : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, ResourceSnapshot> resources;
    private readonly ConcurrentDictionary<string, List<LogLine>> backlogs = new();
    private readonly ConcurrentDictionary<Channel<LogLine>, string> followers = new();

    private FakeResourceService(WebApplication app, IEnumerable<ResourceSnapshot> resources)
    {
        this.app = app;
        this.resources = new(resources.ToDictionary(resource => resource.Name));
    }

    public Uri BaseAddress => new(app.Urls.First());

    public static async Task<FakeResourceService> StartAsync(IEnumerable<ResourceSnapshot> resources)
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"]);
        var service = new FakeResourceService(builder.Build(), resources);
        service.Map();
        await service.app.StartAsync(TestContext.Current.CancellationToken);
        return service;
    }

    /// <summary>Writes a line to a resource's console output, as its process would.</summary>
    public void Print(string resource, string line, string stream = "stdout")
    {
        var entry = new LogLine(DateTimeOffset.UtcNow, stream, line);
        var backlog = backlogs.GetOrAdd(resource, _ => []);
        lock (backlog)
        {
            backlog.Add(entry);
            foreach (var (follower, followed) in followers)
            {
                if (followed == resource)
                {
                    follower.Writer.TryWrite(entry);
                }
            }
        }
    }

    public int Restarts(string resource) => resources[resource].Restarts;

    private void Map()
    {
        app.MapGet("/api/resources", () => resources.Values.OrderBy(resource => resource.Name, StringComparer.Ordinal));
        app.MapGet("/api/resources/{name}/logs", (string name, CancellationToken aborted) =>
            resources.ContainsKey(name) ? Results.ServerSentEvents(FollowAsync(name, aborted)) : Results.NotFound());
        app.MapPost("/api/resources/{name}/restart", (string name) =>
        {
            if (!resources.TryGetValue(name, out var resource))
            {
                return Results.NotFound();
            }

            resources[name] = resource with { Restarts = resource.Restarts + 1, State = "running", StartedAt = DateTimeOffset.UtcNow };
            Print(name, "restarted by the dashboard");
            return Results.Accepted();
        });
    }

    private async IAsyncEnumerable<SseItem<LogLine>> FollowAsync(string resource, [EnumeratorCancellation] CancellationToken aborted)
    {
        var follower = Channel.CreateUnbounded<LogLine>();
        var backlog = backlogs.GetOrAdd(resource, _ => []);
        lock (backlog)
        {
            // Under the lock: no line printed now can be missed or sent twice.
            foreach (var line in backlog)
            {
                follower.Writer.TryWrite(line);
            }

            followers[follower] = resource;
        }

        try
        {
            await foreach (var line in follower.Reader.ReadAllAsync(aborted))
            {
                yield return new SseItem<LogLine>(line);
            }
        }
        finally
        {
            followers.TryRemove(follower, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }
}
