using LlmAspire.ModelManager.Catalog;

namespace LlmAspire.ModelManager.Runtimes;

/// <summary>Starts model servers of one kind (local processes, Docker containers, …).</summary>
public interface IModelServerRuntime
{
    /// <summary>Starts the server of a catalog entry; it is not ready yet when this returns.</summary>
    Task<IModelServer> StartAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken);
}

/// <summary>One running model server.</summary>
public interface IModelServer : IAsyncDisposable
{
    /// <summary>Root URL of its OpenAI-compatible API.</summary>
    Uri Endpoint { get; }

    /// <summary>Completes when the server has exited, whether it was stopped or died on its own.</summary>
    Task Exited { get; }

    /// <summary>The last lines the server wrote, for error messages.</summary>
    string LogTail();

    /// <summary>Asks the server to stop, and kills it when it has not within <paramref name="grace"/>.</summary>
    Task StopAsync(TimeSpan grace);
}
