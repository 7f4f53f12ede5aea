using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// A runtime whose "servers" are one real loopback server that always answers ready, so lifecycle rules can be tested
/// in virtual time; it counts starts and stops per model.
/// </summary>
public sealed class FakeRuntime(Uri readyServer) : IModelServerRuntime
{
    private int starts;

    public int Starts => Volatile.Read(ref starts);

    public List<string> Stopped { get; } = [];

    /// <summary>When set, every start fails with it.</summary>
    public Exception? StartFailure { get; set; }

    /// <summary>Lets a test hold starts open to pile up concurrent callers.</summary>
    public TaskCompletionSource StartGate { get; set; } = CompletedGate();

    public async Task<IModelServer> StartAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref starts);
        await StartGate.Task;
        if (StartFailure is { } failure)
        {
            throw failure;
        }

        return new Server(this, modelId, readyServer);
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }

    private sealed class Server(FakeRuntime runtime, string modelId, Uri endpoint) : IModelServer
    {
        private readonly TaskCompletionSource exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Uri Endpoint { get; } = endpoint;

        public Task Exited => exited.Task;

        public string LogTail() => "fake server output";

        public Task StopAsync(TimeSpan grace)
        {
            lock (runtime.Stopped)
            {
                runtime.Stopped.Add(modelId);
            }

            exited.TrySetResult();
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            exited.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }
}
