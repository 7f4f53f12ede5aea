using LlmAspire.ModelManager.Catalog;

namespace LlmAspire.ModelManager.Runtimes;

/// <summary>Runs model servers of one kind (local processes, Docker containers; a Kubernetes runtime would be a third).</summary>
internal interface IModelServerRuntime
{
    RuntimeKind Kind { get; }

    /// <summary>
    /// Finds a live server that this ModelManager (by <see cref="ModelManagerOptions.Name"/>) started for the model
    /// earlier, typically before a restart, so that it is adopted instead of started twice. Leftovers that are no longer
    /// running are cleaned up on the way.
    /// </summary>
    Task<IModelServer?> FindRunningAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken);

    /// <summary>Starts the server of a catalog entry; it is not ready yet when this returns.</summary>
    Task<IModelServer> StartAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken);
}

/// <summary>One running model server. Disposing it lets go of it without stopping it.</summary>
internal interface IModelServer : IAsyncDisposable
{
    /// <summary>Container id or process id.</summary>
    string Instance { get; }

    /// <summary>Root URL of its OpenAI-compatible API.</summary>
    Uri Endpoint { get; }

    /// <summary>Completes when the server has exited, whether it was stopped or died on its own.</summary>
    Task Exited { get; }

    /// <summary>How it exited ("exit code 1", "killed by signal 9"), once <see cref="Exited"/> has completed.</summary>
    string? ExitDescription { get; }

    /// <summary>The last lines the server wrote, for error messages; still available after it has exited.</summary>
    Task<string> LogTailAsync(CancellationToken cancellationToken);

    /// <summary>Asks the server to stop (SIGTERM), kills it when it has not within <paramref name="grace"/>, and cleans up after it.</summary>
    Task StopAsync(TimeSpan grace, CancellationToken cancellationToken);
}

/// <summary>A runtime could not do what it was asked, with a message meant for operators.</summary>
internal sealed class ModelServerException(string message, Exception? inner = null) : Exception(message, inner);
