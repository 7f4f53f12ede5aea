using System.Net;
using System.Runtime.CompilerServices;
using LlmAspire.ModelManager.Client;

namespace LlmAspire.AppHost.Models;

/// <summary>
/// One ModelManager resource's control API (docs/modelmanager.md) as the AppHost uses it, through ModelManager.Client:
/// the change feed behind the model resources, and their Load and Unload commands.
/// </summary>
internal sealed class ModelManagerApi(IHttpClientFactory clients, ProjectResource modelManager)
{
    // Long enough for a busy ModelManager; a Load answers as soon as the start is under way.
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    // How long a Load waits for the model: a start under way is all it needs to see.
    private static readonly TimeSpan LoadWait = TimeSpan.FromSeconds(0.5);

    public string Name => modelManager.Name;

    /// <summary>The fleet at once and after every change of state or activity, until the stream ends or fails.</summary>
    public async IAsyncEnumerable<FleetSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var client = await CreateClientAsync(cancellationToken);
        await foreach (var fleet in client.WatchAsync(cancellationToken))
        {
            yield return fleet;
        }
    }

    /// <summary>Starts loading the model and answers once the load is under way (or done), not when it ends.</summary>
    public Task<ExecuteCommandResult> LoadAsync(string modelId, CancellationToken cancellationToken) =>
        CallAsync(
            async (client, limit) =>
            {
                await client.EnsureAsync(modelId, LoadWait, cancellationToken: limit);
                return CommandResults.Success($"{modelId} is ready.");
            },
            refused => refused.StatusCode == HttpStatusCode.GatewayTimeout
                ? CommandResults.Success($"{modelId} is loading.")
                : CommandResults.Failure($"ModelManager did not load {modelId}: {Reason(refused)}"),
            cancellationToken);

    /// <summary>Stops the model's server; refused while requests are in flight (ModelManager says how many).</summary>
    public Task<ExecuteCommandResult> UnloadAsync(string modelId, CancellationToken cancellationToken) =>
        CallAsync(
            async (client, limit) =>
            {
                await client.StopAsync(modelId, cancellationToken: limit);
                return CommandResults.Success($"{modelId} is unloaded.");
            },
            refused => CommandResults.Failure($"ModelManager did not unload {modelId}: {Reason(refused)}"),
            cancellationToken);

    private static string Reason(ModelManagerException refused) => refused.Error?.Message ?? $"HTTP {(int?)refused.StatusCode}";

    private async Task<ExecuteCommandResult> CallAsync(
        Func<ModelManagerClient, CancellationToken, Task<ExecuteCommandResult>> call, Func<ModelManagerException, ExecuteCommandResult> refused,
        CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(CallTimeout);
        try
        {
            return await call(await CreateClientAsync(limit.Token), limit.Token);
        }
        catch (ModelManagerException exception)
        {
            return refused(exception);
        }
        catch (Exception exception) when (exception is HttpRequestException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return CommandResults.Failure($"ModelManager ({Name}) did not answer: {exception.Message}");
        }
    }

    /// <summary>A client of the resource's <c>http</c> endpoint with its token; no client timeout (streams stay open), each call sets its limit.</summary>
    private async Task<ModelManagerClient> CreateClientAsync(CancellationToken cancellationToken)
    {
        var token = modelManager.Annotations.OfType<ModelManagerApiAnnotation>().Single().Token;
        var http = clients.CreateClient();
        http.BaseAddress = new Uri(modelManager.GetEndpoint("http").Url);
        http.Timeout = Timeout.InfiniteTimeSpan;
        // A generated parameter: it always has a value.
        return new ModelManagerClient(http, (await token.GetValueAsync(cancellationToken))!);
    }
}
