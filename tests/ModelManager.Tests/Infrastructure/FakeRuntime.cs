using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>
/// A runtime whose "servers" all point at one real loopback server that always answers ready, so lifecycle rules can
/// be tested in virtual time. It counts starts and stops per model, can fail or hold starts, can have servers "crash",
/// and can pretend a server was left running by a previous ModelManager.
/// </summary>
internal sealed class FakeRuntime(Uri readyServer) : IModelServerRuntime
{
    private readonly Lock gate = new();
    private readonly List<string> started = [];
    private readonly List<string> stopped = [];
    private readonly Dictionary<string, Server> running = new(StringComparer.Ordinal);
    private int instances;

    public RuntimeKind Kind => RuntimeKind.Process;

    public int Starts
    {
        get
        {
            lock (gate)
            {
                return started.Count;
            }
        }
    }

    public IReadOnlyList<string> Started
    {
        get
        {
            lock (gate)
            {
                return [.. started];
            }
        }
    }

    public IReadOnlyList<string> Stopped
    {
        get
        {
            lock (gate)
            {
                return [.. stopped];
            }
        }
    }

    /// <summary>When set, every start fails with it.</summary>
    public Exception? StartFailure { get; set; }

    /// <summary>Lets a test hold starts open to pile up concurrent callers.</summary>
    public TaskCompletionSource StartGate { get; set; } = CompletedGate();

    /// <summary>Endpoint given to new servers (default: the always-ready server).</summary>
    public Uri Endpoint { get; set; } = readyServer;

    /// <summary>Endpoints given to the servers of particular models instead of <see cref="Endpoint"/>.</summary>
    public Dictionary<string, Uri> ModelEndpoints { get; } = new(StringComparer.Ordinal);

    /// <summary>Pretends a previous ModelManager left a server of <paramref name="modelId"/> running.</summary>
    public void LeaveRunning(string modelId)
    {
        lock (gate)
        {
            running[modelId] = new Server(this, modelId, $"left-{modelId}", EndpointOf(modelId));
        }
    }

    public bool IsRunning(string modelId)
    {
        lock (gate)
        {
            return running.ContainsKey(modelId);
        }
    }

    /// <summary>The server stops answering at its endpoint (its listener is gone) without exiting.</summary>
    public void StopListening(string modelId, Uri deadEndpoint)
    {
        lock (gate)
        {
            running[modelId].Endpoint = deadEndpoint;
        }
    }

    /// <summary>The server exits on its own.</summary>
    public void Crash(string modelId)
    {
        Server? server;
        lock (gate)
        {
            running.Remove(modelId, out server);
        }

        server?.Exit("exit code 137");
    }

    public Task<IModelServer?> FindRunningAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IModelServer?>(running.TryGetValue(modelId, out var server) ? server : null);
        }
    }

    public async Task<IModelServer> StartAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            started.Add(modelId);
        }

        await StartGate.Task.WaitAsync(cancellationToken);
        if (StartFailure is { } failure)
        {
            throw failure;
        }

        var server = new Server(this, modelId, $"{modelId}-{Interlocked.Increment(ref instances)}", EndpointOf(modelId));
        lock (gate)
        {
            running[modelId] = server;
        }

        return server;
    }

    private Uri EndpointOf(string modelId) => ModelEndpoints.GetValueOrDefault(modelId, Endpoint);

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }

    private sealed class Server(FakeRuntime runtime, string modelId, string instance, Uri endpoint) : IModelServer
    {
        private readonly TaskCompletionSource exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Instance { get; } = instance;

        public Uri Endpoint { get; set; } = endpoint;

        public Task Exited => exited.Task;

        public string? ExitDescription { get; private set; }

        public Task<string> LogTailAsync(CancellationToken cancellationToken) => Task.FromResult($"fake output of {Instance}");

        public Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
        {
            lock (runtime.gate)
            {
                runtime.stopped.Add(modelId);
                if (runtime.running.TryGetValue(modelId, out var current) && ReferenceEquals(current, this))
                {
                    runtime.running.Remove(modelId);
                }
            }

            Exit("stopped");
            return Task.CompletedTask;
        }

        public void Exit(string description)
        {
            ExitDescription = description;
            exited.TrySetResult();
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
