using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmAspire.AppHost.Models;

/// <summary>The part of ModelManager's control API (docs/modelmanager.md) the AppHost uses, as one ModelManager resource's client.</summary>
internal sealed class ModelManagerApi(HttpClient http, ProjectResource modelManager)
{
    // Long enough for a busy ModelManager; a Load answers as soon as the start is under way.
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    public string Name => modelManager.Name;

    /// <summary>The fleet at once and after every change of state or activity, until the stream ends or fails.</summary>
    public async IAsyncEnumerable<FleetSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = await CreateRequestAsync(HttpMethod.Get, "/api/changes/stream", cancellationToken);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken))
        {
            if (item.EventType == "models" && JsonSerializer.Deserialize<FleetSnapshot>(item.Data, JsonSerializerOptions.Web) is { } fleet)
            {
                yield return fleet;
            }
        }
    }

    /// <summary>Starts loading the model and answers once the load is under way (or done), not when it ends.</summary>
    public Task<ExecuteCommandResult> LoadAsync(string modelId, CancellationToken cancellationToken) =>
        CallAsync($"/api/models/{Uri.EscapeDataString(modelId)}/ensure?timeoutSeconds=0.5", cancellationToken, (status, error) => status switch
        {
            HttpStatusCode.OK => CommandResults.Success($"{modelId} is ready."),
            HttpStatusCode.GatewayTimeout => CommandResults.Success($"{modelId} is loading."),
            _ => CommandResults.Failure($"ModelManager did not load {modelId}: {error}"),
        });

    /// <summary>Stops the model's server; refused while requests are in flight (ModelManager says how many).</summary>
    public Task<ExecuteCommandResult> UnloadAsync(string modelId, CancellationToken cancellationToken) =>
        CallAsync($"/api/models/{Uri.EscapeDataString(modelId)}/stop", cancellationToken, (status, error) => status == HttpStatusCode.OK
            ? CommandResults.Success($"{modelId} is unloaded.")
            : CommandResults.Failure($"ModelManager did not unload {modelId}: {error}"));

    private async Task<ExecuteCommandResult> CallAsync(
        string path, CancellationToken cancellationToken, Func<HttpStatusCode, string, ExecuteCommandResult> answer)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(CallTimeout);
        try
        {
            using var request = await CreateRequestAsync(HttpMethod.Post, path, limit.Token);
            using var response = await http.SendAsync(request, limit.Token);
            var body = await response.Content.ReadAsStringAsync(limit.Token);
            return answer(response.StatusCode, ErrorMessage(response.StatusCode, body));
        }
        catch (Exception exception) when (exception is HttpRequestException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return CommandResults.Failure($"ModelManager ({Name}) did not answer: {exception.Message}");
        }
    }

    private async Task<HttpRequestMessage> CreateRequestAsync(HttpMethod method, string path, CancellationToken cancellationToken)
    {
        var token = modelManager.Annotations.OfType<ModelManagerApiAnnotation>().Single().Token;
        var request = new HttpRequestMessage(method, new Uri(new Uri(modelManager.GetEndpoint("http").Url), path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await token.GetValueAsync(cancellationToken));
        return request;
    }

    private static string ErrorMessage(HttpStatusCode status, string body)
    {
        try
        {
            if (JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>() is { } message)
            {
                return message;
            }
        }
        catch (JsonException)
        {
        }

        return $"HTTP {(int)status}";
    }
}

/// <summary>ModelManager's fleet as its change feed sends it (the fields the dashboard shows).</summary>
internal sealed record FleetSnapshot(long Version, IReadOnlyList<ModelSnapshot> Models);

internal sealed record ModelSnapshot(
    string Id,
    string Runtime,
    string State,
    Uri? Endpoint,
    int InFlight,
    int Queued,
    DateTimeOffset? IdleStopAt,
    double? LastColdStartSeconds,
    string? LastError);
